"""The layout rules of docs/architecture.md, checked on the tree: no import circles between project
modules (imports inside functions count), the dependency direction between apps, and a small
billing_app root."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = ("evbilling", "sessions_app", "billing_app", "disputes_app", "webhooks_app", "ocpi_app", "guests_app")
#: Which app may import which (disputes -> billing -> sessions; webhooks above all three; OCPI above billing;
#: guests above disputes, billing and sessions, beside webhooks and OCPI).
ALLOWED = {
    "sessions_app": {"sessions_app", "evbilling"},
    "billing_app": {"billing_app", "sessions_app", "evbilling"},
    "disputes_app": {"disputes_app", "billing_app", "sessions_app", "evbilling"},
    "webhooks_app": {"webhooks_app", "disputes_app", "billing_app", "sessions_app", "evbilling"},
    "ocpi_app": {"ocpi_app", "disputes_app", "billing_app", "sessions_app", "evbilling"},
    "guests_app": {"guests_app", "disputes_app", "billing_app", "sessions_app", "evbilling"},
}


def _modules() -> dict[str, tuple[Path, bool]]:
    found = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _imports(module: str, path: Path, is_package: bool, modules) -> set[str]:
    """Project modules `module` imports, wherever the import statement stands."""
    targets = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: None if is_package else -1]
                base = base[: len(base) - node.level + 1]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
        for name in names:
            while name and name not in modules:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


def _graph():
    modules = _modules()
    return {name: _imports(name, path, is_package, modules) for name, (path, is_package) in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_no_import_circles_even_through_imports_inside_functions():
    assert _cycles(_graph()) == []


def test_apps_import_only_downwards():
    wrong = sorted(f"{module} -> {target}" for module, targets in _graph().items()
                   for target in targets
                   if module.split(".")[0] in ALLOWED and target.split(".")[0] not in ALLOWED[module.split(".")[0]])
    assert wrong == []


def test_billing_app_root_keeps_at_most_twelve_modules():
    root_modules = sorted(p.name for p in (ROOT / "billing_app").glob("*.py"))
    assert len(root_modules) <= 12, root_modules
