"""Reading config files (YAML / TOML / JSON) that may come from anyone.

A config file is data, never code (``yaml.safe_load``), but data can still be hostile:
a few hundred bytes of YAML aliases expand to gigabytes once walked, a 50,000-deep list
exhausts the parser's recursion, and bytes that are not UTF-8 stop the decoder. Every
such file is refused here with a :class:`~xrdsim.errors.ConfigError` naming the file,
before any value of it is validated or formatted into a message:

- at most :data:`MAX_CONFIG_BYTES` bytes, UTF-8;
- at most :data:`MAX_NODES` values once every YAML alias is expanded (counted on the
  composed node graph, without expanding it) and at most :data:`MAX_DEPTH` levels.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from xrdsim.errors import ConfigError

#: The shipped presets are ~2 KB; a training / simulation config has no reason to be bigger.
MAX_CONFIG_BYTES = 1 << 20
#: Scalars, lists and mappings of one config after alias expansion.
MAX_NODES = 100_000
#: Nesting of mappings / lists (the deepest legitimate config nests 4 levels).
MAX_DEPTH = 32


def read_config_file(path: str | Path, *, what: str = "config") -> Any:
    """Parse ``path`` by its suffix (``.toml``, ``.json``, anything else YAML), within caps.

    Raises:
        ConfigError: unreadable, too big, not UTF-8, not valid, too many nodes, too deep.
    """
    path = Path(path)
    try:
        if not path.is_file():
            raise ConfigError(f"{what} {str(path)!r} is not a regular file")
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise ConfigError(f"{what} {path}: {size} bytes, more than the {MAX_CONFIG_BYTES} "
                              "a config may have; refused unread")
        with path.open("rb") as handle:
            raw = handle.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{what} {path}: cannot read ({exc.strerror})") from None
    if len(raw) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{what} {path}: more than {MAX_CONFIG_BYTES} bytes; refused")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{what} {path}: not UTF-8 text (byte {exc.start}); save it as "
                          "UTF-8") from None
    return parse_config_text(text, suffix=path.suffix.lower(), source=f"{what} {path}")


def parse_config_text(text: str, *, suffix: str, source: str) -> Any:
    """Parse ``text`` as ``.toml`` / ``.json`` / YAML (any other suffix), within the caps."""
    import tomllib
    import yaml

    kind = {".toml": "TOML", ".json": "JSON"}.get(suffix, "YAML")
    try:
        if kind == "TOML":
            data = tomllib.loads(text)
        elif kind == "JSON":
            data = json.loads(text)
        else:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
            _check_yaml_graph(node, source)
            data = yaml.safe_load(text)
    except RecursionError:
        raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused") from None
    except ConfigError:
        raise  # the alias and depth checks' own message, not "not valid YAML (...)"
    except (ValueError, yaml.YAMLError) as exc:
        first = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        raise ConfigError(f"{source}: not valid {kind} ({first})") from None
    _check_tree(data, source)
    return data


def _check_yaml_graph(root: Any, source: str) -> None:
    """Count the nodes an alias-expanding walk would visit, without walking it."""
    import yaml

    if root is None:
        return
    expanded: dict[int, int] = {}
    depth: dict[int, int] = {}
    entered: set[int] = set()
    # post-order over the distinct nodes (aliases share node objects)
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, done = stack.pop()
        key = id(node)
        if key in expanded:
            continue
        if not done:
            if key in entered:  # reached again below itself: a recursive alias
                raise ConfigError(f"{source}: a YAML alias refers to itself; refused")
            entered.add(key)
        if isinstance(node, yaml.MappingNode):
            children = [c for pair in node.value for c in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        else:
            children = []
        if not done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in expanded)
            continue
        if any(id(c) not in expanded for c in children):
            raise ConfigError(f"{source}: a YAML alias refers to itself; refused")
        expanded[key] = 1 + sum(expanded[id(c)] for c in children)
        depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
        if expanded[key] > MAX_NODES:
            raise ConfigError(f"{source}: more than {MAX_NODES} values once its YAML aliases "
                              "are expanded; refused")
        if depth[key] > MAX_DEPTH:
            raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused")


def _check_tree(data: Any, source: str) -> None:
    """Depth and size of parsed JSON / TOML / YAML data (an iterative walk)."""
    count = 0
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, level = stack.pop()
        count += 1
        if count > MAX_NODES:
            raise ConfigError(f"{source}: more than {MAX_NODES} values; refused")
        if level > MAX_DEPTH:
            raise ConfigError(f"{source}: nested deeper than {MAX_DEPTH} levels; refused")
        if isinstance(value, dict):
            stack.extend((v, level + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, level + 1) for v in value)
