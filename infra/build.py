"""Docker-free Lambda packaging: one deterministic zip per function.

Each asset holds the shared package (``src/logsight`` without the one-machine runtime), the
function's handler, and only the third-party distributions that the function's code imports,
installed from manylinux wheels for the Lambda runtime (CPython 3.12, arm64 by default) at the
versions pinned in ``uv.lock``. boto3/botocore are left out: the Lambda runtime provides them.

What a function imports is found statically: every ``import`` reachable from its handler through
``logsight``/``functions`` modules, including imports deferred into function bodies (those run
on Lambda too, just later), excluding ``if TYPE_CHECKING:`` blocks. Top-level module names map to
distributions through the virtual environment's metadata; extras (``psycopg[binary]``,
``ua-parser[regex]``, ``pyjwt[crypto]``) come from the requirement as written in pyproject.toml.

Rebuilds happen only when an input changes: the cache key covers the shared package, the
handlers, pyproject.toml, uv.lock, this file and the target platform.

    python -m infra.build                      # all functions, arm64 (what `make build` runs)
    python -m infra.build --platform x86_64    # a copy this machine can import (tests)
"""

from __future__ import annotations

import argparse
import ast
import compileall
import hashlib
import importlib.metadata
import json
import os
import py_compile
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
BUILD_DIR = ROOT / "infra" / "build"
UV = ROOT / ".tools" / "bin" / "uv"

PYTHON_VERSION = "3.12"
# The Lambda python3.12 runtime is Amazon Linux 2023 (glibc 2.34): wheels tagged manylinux up to
# 2_34 load there. (manylinux2014 alone is too old: psycopg-binary ships aarch64 only as 2_28.)
PLATFORMS = {
    "arm64": "aarch64-manylinux_2_34",
    "x86_64": "x86_64-manylinux_2_34",
}
# Provided by the Lambda Python runtime; shipping them would only add ~20 MB.
RUNTIME_PROVIDED = frozenset({"boto3", "botocore", "s3transfer"})
# Local-only parts of the shared package: never imported on Lambda.
PACKAGE_EXCLUDES = ("logsight/local", "logsight/cli.py")
# Pinned timestamp: identical inputs give byte-identical zips, hence stable CDK asset hashes.
ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


@dataclass(frozen=True, slots=True)
class FunctionAsset:
    name: str
    entry: Path  # the handler module's file
    module: str  # its import name inside the asset
    handler: str  # Lambda handler string

    @property
    def asset_path(self) -> str:
        return self.module.replace(".", "/") + ".py"


def _fn(name: str) -> FunctionAsset:
    return FunctionAsset(
        name=name,
        entry=ROOT / "functions" / name / "handler.py",
        module=f"functions.{name}.handler",
        handler=f"functions.{name}.handler.handler",
    )


# The four application functions keep the repository layout (the local runtime imports the
# same dotted paths); `deploy` is the custom resource that migrates and declares the topology.
FUNCTIONS: dict[str, FunctionAsset] = {
    **{name: _fn(name) for name in ("ingest", "processor", "api", "alerts")},
    "deploy": FunctionAsset(
        name="deploy",
        entry=ROOT / "infra" / "runtime" / "logsight_deploy.py",
        module="logsight_deploy",
        handler="logsight_deploy.handler",
    ),
}


# ---------------------------------------------------------------------------------------------
# What a function imports


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported_names(tree: ast.AST, package: str) -> Iterator[str]:
    """Dotted names a module imports (``from a import b`` yields ``a`` and ``a.b``)."""
    stack: list[ast.AST] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node):
            stack.extend(node.orelse)
            continue
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join([*base_parts, node.module] if node.module else base_parts)
            else:
                base = node.module or ""
            yield base
            for alias in node.names:
                yield f"{base}.{alias.name}"
        stack.extend(ast.iter_child_nodes(node))


def _local_file(name: str, extra_roots: dict[str, Path]) -> Path | None:
    """The source file of a first-party module, or None if ``name`` is not one."""
    top = name.split(".", 1)[0]
    if top == "logsight":
        base = SRC
    elif top == "functions":
        base = ROOT
    elif name in extra_roots:
        return extra_roots[name]
    else:
        return None
    path = base.joinpath(*name.split("."))
    if path.is_dir() and (path / "__init__.py").exists():
        return path / "__init__.py"
    if path.with_suffix(".py").exists():
        return path.with_suffix(".py")
    return None


def third_party_imports(function: FunctionAsset) -> set[str]:
    """Top-level third-party module names reachable from the function's handler."""
    extra = {function.module: function.entry}
    seen: set[Path] = set()
    found: set[str] = set()
    queue: list[tuple[str, Path]] = [(function.module, function.entry)]
    stdlib = sys.stdlib_module_names
    while queue:
        module, path = queue.pop()
        if path in seen:
            continue
        seen.add(path)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for name in _imported_names(tree, package):
            if not name:
                continue
            top = name.split(".", 1)[0]
            target = _local_file(name, extra)
            if target is not None:
                queue.append((name, target))
                # Importing a.b.c runs a/__init__ and a/b/__init__ first.
                parts = name.split(".")
                for i in range(1, len(parts)):
                    parent = _local_file(".".join(parts[:i]), extra)
                    if parent is not None:
                        queue.append((".".join(parts[:i]), parent))
            elif top not in stdlib and top not in ("logsight", "functions", "__future__"):
                # Two levels: a namespace package (opentelemetry, google) is shared by several
                # distributions, and only the one holding the imported package is needed.
                found.add(".".join(name.split(".", 2)[:2]))
    return found


def _project_requirements() -> dict[str, Requirement]:
    """Requirements as pyproject.toml spells them (with extras), by canonical name."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        specs.extend(group)
    requirements: dict[str, Requirement] = {}
    for spec in specs:
        requirement = Requirement(spec)
        requirements[canonicalize_name(requirement.name)] = requirement
    return requirements


def _owners(module: str, dists: list[str]) -> list[str]:
    """Of the distributions sharing a top-level name, those holding ``module`` (a.b) itself."""
    prefix = module.replace(".", "/")
    return [
        dist
        for dist in dists
        if any(
            str(f).startswith(f"{prefix}/") or str(f) == f"{prefix}.py"
            for f in importlib.metadata.files(dist) or []
        )
    ]


def distributions_for(modules: Iterable[str]) -> list[str]:
    """Requirement strings (name[extras]) for the distributions providing ``modules`` (top-level
    names, or two levels under a top-level name several distributions share)."""
    by_module = importlib.metadata.packages_distributions()
    declared = _project_requirements()
    result: dict[str, str] = {}
    wanted = set(modules)
    for module in sorted(wanted):
        top = module.split(".", 1)[0]
        dists = by_module.get(top)
        if not dists:
            raise SystemExit(f"error: no installed distribution provides module {top!r}")
        if len(dists) > 1:
            if "." in module:
                dists = _owners(module, dists) or dists
            elif any(m.startswith(f"{top}.") for m in wanted):
                continue  # the two-level names say which of them
        for dist in dists:
            name = canonicalize_name(dist)
            if name in RUNTIME_PROVIDED:
                continue
            # A transitive dependency imported directly (cryptography via pyjwt[crypto]) is
            # still pinned by the lock; only declared ones can carry extras.
            requirement = declared.get(name)
            extras = (
                f"[{','.join(sorted(requirement.extras))}]"
                if requirement is not None and requirement.extras
                else ""
            )
            result[name] = f"{name}{extras}"
    return sorted(result.values())


# ---------------------------------------------------------------------------------------------
# Building


def _package_files() -> list[Path]:
    files = []
    for path in sorted((SRC / "logsight").rglob("*")):
        rel = path.relative_to(SRC).as_posix()
        if "__pycache__" in rel or path.is_dir() or rel.startswith(PACKAGE_EXCLUDES):
            continue
        files.append(path)
    return files


def _handler_files(function: FunctionAsset) -> list[tuple[Path, str]]:
    """(source, path in asset) for the handler and the packages around it."""
    if function.module.startswith("functions."):
        return [
            (ROOT / "functions" / "__init__.py", "functions/__init__.py"),
            (function.entry.parent / "__init__.py", f"functions/{function.name}/__init__.py"),
            (function.entry, function.asset_path),
        ]
    return [(function.entry, function.asset_path)]


def cache_key(function: FunctionAsset, platform: str) -> str:
    digest = hashlib.sha256()
    inputs = [
        *_package_files(),
        *(src for src, _ in _handler_files(function)),
        ROOT / "pyproject.toml",
        ROOT / "uv.lock",
        Path(__file__),
    ]
    for path in inputs:
        digest.update(path.relative_to(ROOT).as_posix().encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    digest.update(f"{function.name}|{platform}|{PYTHON_VERSION}".encode())
    return digest.hexdigest()


def _locked_constraints(directory: Path) -> Path:
    """uv.lock as a constraints file, so every asset gets exactly the locked versions."""
    path = directory / "constraints.txt"
    exported = subprocess.run(
        [
            str(UV),
            "export",
            "--frozen",
            "--no-hashes",
            "--no-dev",
            "--no-emit-project",
            "--all-extras",
            "--no-header",
            "--no-annotate",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    path.write_text(exported)
    return path


def _install(requirements: list[str], target: Path, platform: str, constraints: Path) -> None:
    if not requirements:
        return
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--target",
            str(target),
            "--python",
            sys.executable,
            "--python-version",
            PYTHON_VERSION,
            "--python-platform",
            PLATFORMS[platform],
            "--only-binary",
            ":all:",
            "--constraints",
            str(constraints),
            *requirements,
        ],
        cwd=ROOT,
        check=True,
        # Copies, not hardlinks into uv's cache: the files are stripped and trimmed in place.
        env={**os.environ, "UV_NO_PROGRESS": "1", "UV_LINK_MODE": "copy"},
    )


_TRIM_DIRS = {"__pycache__", "tests", "test"}
_TRIM_SUFFIXES = (".pyi", ".pxd", ".pyx", ".c", ".h")
# Alternatives that never load: zstandard imports its C backend (the cffi one is a fallback
# for PyPy).
_TRIM_GLOBS = ("zstandard/_cffi.*.so", "zstandard/backend_cffi.py")
# Powertools' Swagger UI bundle: the api function serves it at /api/docs (logsight.api.docs);
# the others never load it.
_SWAGGER_UI_GLOBS = (
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.js",
    "aws_lambda_powertools/event_handler/openapi/swagger_ui/*.css",
)


def _trim(target: Path, function: str) -> None:
    """Remove what never runs on Lambda: test suites, stubs, C sources, installer records."""
    for path in sorted(target.rglob("*"), reverse=True):
        if not path.exists():
            continue
        if path.is_dir() and path.name in _TRIM_DIRS:
            shutil.rmtree(path)
        elif path.is_file() and (
            path.name.endswith(_TRIM_SUFFIXES) or path.name in ("RECORD", "INSTALLER")
        ):
            path.unlink()
    if (target / "bin").exists():
        shutil.rmtree(target / "bin")
    globs = _TRIM_GLOBS if function == "api" else _TRIM_GLOBS + _SWAGGER_UI_GLOBS
    for pattern in globs:
        for path in target.glob(pattern):
            path.unlink()
    for name in RUNTIME_PROVIDED:
        if (target / name).exists():
            raise SystemExit(f"error: {name} was pulled into an asset; the runtime provides it")


def _strip_tool(platform: str) -> list[str] | None:
    """A strip that understands the target's ELF files: llvm-strip reads every architecture;
    binutils' strip only the host's."""
    if shutil.which("llvm-strip"):
        return ["llvm-strip", "--strip-debug"]
    host = {"x86_64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}.get(os.uname().machine)
    if host == platform and shutil.which("strip"):
        return ["strip", "--strip-debug"]
    return None


def _strip_debug_info(target: Path, platform: str) -> None:
    """Some wheels (brotli, zstandard) ship their extensions with DWARF debug info: ~90% of
    their size, useless on Lambda. Code and symbols stay as they are."""
    tool = _strip_tool(platform)
    libraries = [
        p for p in sorted(target.rglob("*.so*")) if p.is_file() and p.read_bytes()[:4] == b"\x7fELF"
    ]
    if tool is None:
        print(f"warning: no strip for {platform}; assets keep their debug info", file=sys.stderr)
        return
    if libraries:
        subprocess.run([*tool, *map(str, libraries)], check=True)


def _write_zip(source: Path, destination: Path) -> None:
    """A deterministic zip: sorted entries, pinned timestamps and modes."""
    tmp = destination.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for path in sorted(source.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(source).as_posix(), ZIP_EPOCH)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    tmp.replace(destination)


@dataclass(frozen=True, slots=True)
class BuiltAsset:
    function: FunctionAsset
    platform: str
    directory: Path
    zip_path: Path
    requirements: tuple[str, ...]
    rebuilt: bool

    @property
    def zip_bytes(self) -> int:
        return self.zip_path.stat().st_size


def asset_paths(name: str, platform: str = "arm64") -> tuple[Path, Path]:
    base = BUILD_DIR / platform
    return base / name, base / f"{name}.zip"


def build_function(
    function: FunctionAsset, platform: str = "arm64", *, force: bool = False
) -> BuiltAsset:
    directory, zip_path = asset_paths(function.name, platform)
    stamp = zip_path.with_suffix(".json")
    key = cache_key(function, platform)
    if not force and zip_path.exists() and stamp.exists():
        meta = json.loads(stamp.read_text())
        if meta.get("key") == key:
            return BuiltAsset(
                function, platform, directory, zip_path, tuple(meta["requirements"]), False
            )

    requirements = distributions_for(third_party_imports(function))
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=zip_path.parent) as tmp:
        staging = Path(tmp) / "asset"
        staging.mkdir()
        _install(requirements, staging, platform, _locked_constraints(Path(tmp)))
        _trim(staging, function.name)
        _strip_debug_info(staging, platform)
        for path in _package_files():
            dest = staging / path.relative_to(SRC)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
        for src, rel in _handler_files(function):
            dest = staging / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
        # /var/task is read-only, so without these every cold start compiles every module.
        # Unchecked-hash pycs stay valid whatever the file times in the zip say.
        compileall.compile_dir(
            staging,
            quiet=2,
            workers=0,
            invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
        )
        _write_zip(staging, zip_path)
        if directory.exists():
            shutil.rmtree(directory)
        staging.rename(directory)
    stamp.write_text(json.dumps({"key": key, "requirements": requirements}, indent=1))
    return BuiltAsset(function, platform, directory, zip_path, tuple(requirements), True)


def build_all(
    platform: str = "arm64", names: Iterable[str] | None = None, *, force: bool = False
) -> list[BuiltAsset]:
    return [build_function(FUNCTIONS[n], platform, force=force) for n in names or FUNCTIONS]


# Zipped-size budgets (the benchmark): ingest is on the cold-start path of every client.
BUDGET_BYTES = {"ingest": 6 * 1024 * 1024}
DEFAULT_BUDGET_BYTES = 12 * 1024 * 1024


def budget_for(name: str) -> int:
    return BUDGET_BYTES.get(name, DEFAULT_BUDGET_BYTES)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--platform", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--force", action="store_true", help="rebuild even if up to date")
    parser.add_argument(
        "--enforce-budget", action="store_true", help="exit 1 when an asset is over its budget"
    )
    parser.add_argument("functions", nargs="*", help=f"any of {', '.join(FUNCTIONS)}")
    args = parser.parse_args(argv)
    unknown = set(args.functions) - set(FUNCTIONS)
    if unknown:
        parser.error(f"unknown function(s): {', '.join(sorted(unknown))}")
    started = time.monotonic()
    over = False
    for asset in build_all(args.platform, args.functions or None, force=args.force):
        size = asset.zip_bytes
        budget = budget_for(asset.function.name)
        over |= size > budget
        state = "built" if asset.rebuilt else "up to date"
        if size > budget:
            state += ", OVER BUDGET"
        print(
            f"{asset.function.name:<10} {size / 1_048_576:6.2f} MB zipped "
            f"(budget {budget / 1_048_576:.0f} MB) {state}: {', '.join(asset.requirements)}"
        )
    print(f"done in {time.monotonic() - started:.1f}s")
    return 1 if over and args.enforce_budget else 0


if __name__ == "__main__":
    raise SystemExit(main())
