"""Models applied to measured patterns: labels of measured files (``labels``, and the
phases a file shows, ``phases``: no torch) and a neural or HAND run's predictions
(``predict``)."""
