"""Bounded reads from the zip containers instruments write (Rigaku ``.rasx``, Bruker ``.brml``).

Nothing is extracted to disk. :func:`open_archive` refuses a file that is not a zip, and a zip
whose member names are absolute or climb out of it (``../``, ``C:\\``): a well-formed
instrument container has neither, so such a file is refused whole rather than read in part.
:func:`read_member` reads one member by name, refusing an encrypted member and one larger
than :data:`MAX_MEMBER_BYTES` uncompressed, on its declared size, before inflating it; the
inflation stops at the declared size and checks the CRC, so a member whose header under-states
its size (a zip bomb) fails there instead of filling memory. XML members are parsed by
:func:`xrdsim.measured.formats.parse_xml` (defusedxml: no DTD, no entities).
"""

from __future__ import annotations

import io
import re
import zipfile
from xml.etree import ElementTree as ET

from xrdsim.errors import PatternReadError
from xrdsim.measured.formats import parse_xml, strip_ns

#: Most bytes one member may inflate to: the bound of a whole text pattern file
#: (:data:`xrdsim.measured.readers.MAX_PATTERN_BYTES`). The members read are a scan's XML and
#: profile text (tens to hundreds of kB); a Bruker ``MeasurementContainer.xml`` (4.5 MB) is
#: never read.
MAX_MEMBER_BYTES = 16 << 20

_DRIVE = re.compile(r"^[A-Za-z]:")


def open_archive(data: bytes, src: str, kind: str) -> zipfile.ZipFile:
    """The zip in ``data``; ``kind`` (e.g. ``"Rigaku .rasx"``) names the format in messages."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError):
        raise PatternReadError(src, f"not a zip archive; a {kind} file is one — is it complete?") \
            from None
    for name in archive.namelist():
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or _DRIVE.match(name) or ".." in parts:
            raise PatternReadError(src, f"the zip holds a member named {name!r}, which points "
                                   f"outside the archive; a {kind} file has none — refused")
    return archive


def read_member(archive: zipfile.ZipFile, name: str, src: str) -> bytes:
    """The bytes of member ``name`` (at most :data:`MAX_MEMBER_BYTES`)."""
    try:
        info = archive.getinfo(name)
    except KeyError:
        raise PatternReadError(src, f"the archive has no member {name!r}") from None
    if info.flag_bits & 0x1:
        raise PatternReadError(src, f"member {name!r} is encrypted; export the scan unencrypted")
    if info.file_size > MAX_MEMBER_BYTES:
        raise PatternReadError(src, f"member {name!r} declares {info.file_size} bytes, more "
                               f"than the {MAX_MEMBER_BYTES} one scan may have — refused")
    try:
        with archive.open(info) as handle:  # stops at the declared size, then checks the CRC
            return handle.read(MAX_MEMBER_BYTES)
    except (zipfile.BadZipFile, NotImplementedError, EOFError, OSError, RuntimeError) as exc:
        raise PatternReadError(src, f"member {name!r} cannot be inflated ({exc}); is the file "
                               "complete?") from None


def read_xml_member(archive: zipfile.ZipFile, name: str, src: str) -> ET.Element:
    """Member ``name`` parsed as XML (defusedxml), namespaces stripped from the tags."""
    root = parse_xml(read_member(archive, name, src), src, f"member {name!r}")
    strip_ns(root)
    return root
