"""Objects a sweep's TOML names by where they live: a user's optimizer class,
model builder or data loader.

    "keras.optimizers.Lion"              a dotted path; the last part is the object
    "my_package.my_module:MyOptimizer"   a module importable from the current
                                         folder or PYTHONPATH, then the object
    "path/to/my_optimizer.py:MyOptimizer"  a file (relative paths are resolved
                                         against the TOML file's folder, see
                                         `absolute`), then the object
"""

import hashlib
import importlib.util
import pkgutil
import sys
from pathlib import Path


class PluginError(Exception):
    """The named object cannot be had: its module does not import, or lacks it."""


def is_file_path(spec):
    return ":" in spec and spec.rpartition(":")[0].endswith(".py")


def absolute(spec, folder):
    """`spec` with a relative file path resolved against `folder`, so that it
    names the same file from any working directory (and on Ray's workers)."""
    if not is_file_path(spec):
        return spec
    path, _, name = spec.rpartition(":")
    return f"{(Path(folder) / path).resolve()}:{name}"


def code_digest(spec):
    """A digest of the contents of the file `spec` names ("file.py:Name"), so
    that a run records what the code it ran was, not only where it lay;
    "" for anything else (a shipped name, a module's dotted path)."""
    if not isinstance(spec, str) or not is_file_path(spec):
        return ""
    return file_digest(spec.rpartition(":")[0])  # "": loading it says what is wrong


def file_digest(path):
    """A short digest of the file's bytes; "" where it cannot be read."""
    try:
        return hashlib.blake2b(Path(path).read_bytes(), digest_size=8).hexdigest()
    except OSError:
        return ""


def is_plugin(spec):
    """Whether `spec` names an object by its place rather than a shipped name."""
    return isinstance(spec, str) and (":" in spec or "." in spec)


def load(spec):
    """The object `spec` names; PluginError saying what failed. A module's
    object is found by `pkgutil.resolve_name` (both the dotted and the
    `module:Object` form); a file's, by loading the file."""
    where, _, name = spec.rpartition(":" if ":" in spec else ".")
    if not where or not name:
        raise PluginError(
            f"{spec!r} names no object: give module.Object, module:Object or "
            "file.py:Object"
        )
    if where.endswith(".py"):
        module = _module_from_file(where)
        if not hasattr(module, name):
            raise PluginError(f"{where} has no {name!r}")
        return getattr(module, name)
    try:
        return pkgutil.resolve_name(spec)
    except AttributeError as error:
        if error.name != name:  # raised while the module imported
            raise PluginError(_import_failure(where, error)) from None
        raise PluginError(f"{where} has no {name!r}") from None
    except Exception as error:  # any failure of the user's module is theirs to see
        raise PluginError(_import_failure(where, error)) from None


def _import_failure(where, error):
    return f"cannot import {where} ({type(error).__name__}: {error})"


_FROM_FILES = {}


def _module_from_file(path):
    """The module of a .py file, loaded once per process under a name of its own."""
    path = Path(path)
    if path in _FROM_FILES:
        return _FROM_FILES[path]
    if not path.is_file():
        raise PluginError(f"no file {path}")
    digest = hashlib.blake2b(str(path).encode(), digest_size=4).hexdigest()
    name = f"{path.stem}_{digest}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up here
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        del sys.modules[name]
        raise PluginError(_import_failure(path, error)) from None
    _FROM_FILES[path] = module
    return module
