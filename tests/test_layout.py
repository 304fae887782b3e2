"""The packages' shape: in experiments, layers that only import downwards,
short modules and functions, no private Ray API, and planning and reporting without
TensorFlow; in both packages, no import circles."""

import ast
import subprocess
import sys

import pytest

from tests.helpers import ROOT

PACKAGE = ROOT / "experiments"
LIBRARY = ROOT / "custom_optimizers"
COMMANDS = {  # the jobs: nothing imports them
    "experiments.sweep.command",
    "experiments.sweep.__main__",
    "experiments.report.__main__",
    "experiments.trajectories",
    "experiments.explorer",
    "experiments.lr_finder",
    "experiments.benchmark_sweep",
    "experiments.benchmark_optimizers",
    "experiments.store_baselines",
    "experiments.notebooks",
    "experiments.samples",
    "experiments.step_sizes",
    "experiments.evaluation_noise",
    "experiments.backend_check",
    "experiments.benchmark_backends",
}
# Beside the jobs, above the sweep and the report: what composes the two
# (a sweep that reports at its end), for the jobs and for a user's script.
COMPOSED = {"experiments.sweep.api"}
SHARED = {"cli", "plotting", "plugins", "problems", "data", "text_data", "models",
          "backend"}  # fmt: skip
LONGEST_FUNCTION = 80
LONGEST_MODULE = 400  # lines: a module past it is doing more than one job


def module_name(path):
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(name):
    """0: the package and what every job shares; 1: the sweep engine and the
    landscapes; 2: the report, which reads what the sweep writes; 3: the jobs
    and the sweep's API."""
    if name in COMMANDS or name in COMPOSED:
        return 3
    parts = name.split(".")
    if len(parts) == 1 or parts[1] in SHARED:
        return 0
    return 2 if parts[1] == "report" else 1


def imports(path):
    """The experiments modules that `path` imports, at the top or in a function."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            submodules = {f"{node.module}.{a.name}" for a in node.names} & set(MODULES)
            # `from package import module` needs the module; its package is
            # already being imported when the module is part of it.
            found |= submodules or {node.module}
    return {name for name in found if name in MODULES}


MODULES = {
    module_name(path): path
    for package in (PACKAGE, LIBRARY)
    for path in package.rglob("*.py")
}
GRAPH = {name: imports(path) - {name} for name, path in MODULES.items()}


def test_every_module_imports_only_its_own_layer_or_below():
    upward = [
        f"{name} (layer {layer(name)}) imports {other} (layer {layer(other)})"
        for name, targets in GRAPH.items()
        for other in targets
        if name.startswith("experiments") and other.startswith("experiments")
        and layer(other) > layer(name) and not name.startswith(other + ".")
    ]  # fmt: skip
    assert upward == []


def test_no_module_imports_itself_through_others():
    def circle_from(start):
        stack = [(start, [start])]
        seen = set()
        while stack:
            name, path = stack.pop()
            for other in GRAPH[name]:
                if other == start:
                    return path + [start]
                if other not in seen and not start.startswith(other + "."):
                    seen.add(other)
                    stack.append((other, path + [other]))
        return None

    circles = [circle_from(name) for name in GRAPH]
    assert [c for c in circles if c] == []


def syntax_nodes():
    """(path, node) for every node of every experiments module's syntax tree."""
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            yield path, node


def test_no_module_reaches_into_ray_s_private_modules():
    """`ray._private` may move in any Ray release; the public API stays."""
    private = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node in syntax_nodes()
        if isinstance(node, (ast.Import, ast.ImportFrom))
        and any(
            name.startswith("ray._private")
            for name in [getattr(node, "module", None) or "",
                         *(alias.name for alias in node.names)]
        )
    ]  # fmt: skip
    assert private == []


def test_no_module_passes_ray_init_a_hidden_option():
    """ray.init's underscored keywords are "hidden / experimental options"
    (its docstring). `_node_ip_address="127.0.0.1"` was one, and Ray 2.60
    rewrote the loopback address to the node's own anyway."""
    hidden = [
        f"{path.relative_to(ROOT)}:{node.lineno} {keyword.arg}"
        for path, node in syntax_nodes()
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute) and node.func.attr == "init"
        and isinstance(node.func.value, ast.Name) and node.func.value.id == "ray"
        for keyword in node.keywords
        if keyword.arg and keyword.arg.startswith("_")
    ]  # fmt: skip
    assert hidden == []


def test_no_module_changes_how_python_imports():
    """TensorFlow's start-up is quieted by its documented TF_CPP_MIN_LOG_LEVEL
    (experiments/__init__.py), not by an import hook that would hide a
    failing import's own message."""
    hooks = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node in syntax_nodes()
        if isinstance(node, ast.Attribute) and node.attr in ("meta_path", "path_hooks")
    ]
    assert hooks == []


def test_no_module_compares_where_an_axis_goes_with_a_string():
    """An axis says where its value goes (`Axis.is_argument`, `axes.reaching`),
    so a new axis needs no branch elsewhere that names its destination."""
    compared = [
        f"{path.relative_to(ROOT)}:{node.lineno}"
        for path, node in syntax_nodes()
        if isinstance(node, ast.Compare)
        and any(isinstance(side, ast.Attribute) and side.attr == "goes_to"
                for side in (node.left, *node.comparators))
        and any(isinstance(side, ast.Constant) and isinstance(side.value, str)
                for side in (node.left, *node.comparators))
    ]  # fmt: skip
    assert compared == []


def test_the_report_names_no_optimizer():
    """The report treats every entry alike, the project's or a user's, so no
    figure or table depends on an entry called `adam` being there."""
    import custom_optimizers

    assert named_in_the_report(set(custom_optimizers.available())) == []


def test_the_report_finds_its_axes_by_role_not_by_name():
    """Which axis the report tunes over, heat-maps or averages is its role in
    axes.AXES; a stored protocol's keys (batch_size) are a file format."""
    from experiments.report.baselines import PROTOCOL_KEYS
    from experiments.sweep import axes

    assert named_in_the_report({a.name for a in axes.AXES} - set(PROTOCOL_KEYS)) == []


def named_in_the_report(names):
    """Where a module of report/ spells one of `names` as a literal."""
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path, node in syntax_nodes()
        if "report" in path.parts
        and isinstance(node, ast.Constant) and node.value in names
    ]  # fmt: skip


def test_no_module_is_longer_than_400_lines():
    long = [
        f"{path.relative_to(ROOT)} ({length} lines)"
        for path in PACKAGE.rglob("*.py")
        if (length := len(path.read_text().splitlines())) > LONGEST_MODULE
    ]
    assert long == []


def test_no_function_is_longer_than_80_lines():
    long = [
        f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)"
        for path, node in syntax_nodes()
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and (length := node.end_lineno - node.lineno + 1) > LONGEST_FUNCTION
    ]
    assert long == []


@pytest.mark.parametrize(
    "modules",
    [
        "experiments.sweep.reading, experiments.sweep.plan",  # planning, validating
        "experiments.report.loading, experiments.report.statistics, "
        "experiments.report.tables",  # reporting
    ],
)
def test_planning_and_reporting_import_no_tensorflow(modules):
    code = (
        f"import sys, {modules}\n"
        "heavy = [m for m in ('tensorflow', 'keras') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=True)
