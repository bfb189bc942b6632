"""The README as a tested contract: every fenced shell command in README.md,
benchmarks/README.md and docs/*.md runs, exits as documented and prints what the text says.

Commands are found, not listed here: a fenced block whose language is sh, bash, shell or
console is split into commands (a trailing backslash continues a line; `# ...` after a
command is its comment), so a command added to any of those files is run by this test
the next time it runs.  What a document says about a command, it says in an HTML comment
before the block (invisible on GitHub), one directive a line:

    <!-- readme-test
    skip: COMMAND -- REASON          documentation only (why it is not run here)
    skip: * -- REASON                the whole block is documentation only
    small: COMMAND => REPLACEMENT    run REPLACEMENT instead (smaller parameters), which
                                     must start with the same program
    exit: COMMAND => N               the exit code (default 0, or "exits N" in the comment)
    prints: COMMAND => TEXT          TEXT must be in the command's stdout or stderr
    file: NAME                       (before a non-shell block) write the block to NAME
    setup: SHELL                     run SHELL before the block's commands
    -->

COMMAND is the command as the block shows it (continuation lines joined, spaces
collapsed).  A directive naming a command its block does not hold fails the test, so the
markers stay true when a command changes.  Each document's commands run in order in one
scratch directory (a user following the text creates r.json before plotting it), with
`gcbench` on PATH running this checkout (PYTHONPATH) and the checkout's benchmarks/,
scripts/ and the imported packages linked into it.  Each must finish within a minute of
CPU (COMMAND_CPU_S; measured as CPU so that a loaded machine does not fail it).
"""
import os
import re
import resource
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md",
             *sorted((ROOT / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"sh", "bash", "shell", "console"}
# "under a minute here": a command may use COMMAND_CPU_S of CPU (its processes and theirs,
# as getrusage counts them), which does not depend on what else loads the machine; the wall
# clock only catches a hang, at COMMAND_WALL_LIMIT_S
COMMAND_CPU_S = 60
COMMAND_WALL_LIMIT_S = 300
# what the scratch directory links from the checkout; the packages come from where this
# process imports them (the installed package, or a checkout built in place), so that
# `PYTHONPATH=.` and `python -m gcbench` there run compiled kernels
LINKED = ("benchmarks", "scripts", "tests", "docs", "setup.py", "pyproject.toml", "README.md")
PACKAGES = ("gcbench", "gcbench_core")

FENCE = re.compile(r"^(```+|~~~+)\s*([\w+-]*)[^\n]*$")
MARKER = re.compile(r"<!--\s*readme-test\b(.*?)-->", re.S)


class Command:
    def __init__(self, doc, line, text, comment):
        self.doc, self.line, self.text, self.comment = doc, line, text, comment
        self.run_text = text
        self.skip_reason = None
        self.exit_code = _exit_from_comment(comment)
        self.prints = []

    @property
    def id(self):
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


class Block:
    def __init__(self, doc, line, language, body, directives):
        self.doc, self.line, self.language, self.body = doc, line, language, body
        self.directives = directives
        self.commands = []
        self.files = []          # (name, text) written before the document's commands
        self.setup = []


def _exit_from_comment(comment):
    m = re.search(r"\bexits (\d+)\b", comment or "")
    return int(m.group(1)) if m else 0


def _normalise(text):
    return " ".join(text.split())


def _split_comment(line):
    """(command, comment) of one shell line: the comment starts at a # that begins a word
    outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip(), line[i + 1:].strip()
    return line.rstrip(), ""


def _commands_of(doc, start_line, body):
    commands, pending, pending_line, comments = [], [], None, []
    for offset, raw in enumerate(body.splitlines()):
        text, comment = _split_comment(raw)
        if not text.strip() and not pending:
            continue
        if comment:
            comments.append(comment)
        if pending_line is None:
            pending_line = start_line + 1 + offset
        if text.endswith("\\"):
            pending.append(text[:-1])
            continue
        pending.append(text)
        command = _normalise(" ".join(pending))
        if command.startswith("$ "):
            command = command[2:]
        commands.append(Command(doc, pending_line, command, " ".join(comments)))
        pending, pending_line, comments = [], None, []
    if pending:
        commands.append(Command(doc, pending_line, _normalise(" ".join(pending)), " ".join(comments)))
    return commands


def _parse_directives(text):
    directives = []
    for line in text.strip().splitlines():
        line = line.strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep or key.strip() not in ("skip", "small", "exit", "prints", "file", "setup"):
            raise ValueError(f"unknown readme-test directive {line!r}")
        directives.append((key.strip(), value.strip()))
    return directives


def parse_document(doc):
    """The document's blocks, each with its commands and what its directives say."""
    lines = doc.read_text(encoding="utf-8").splitlines()
    blocks, pending, i = [], [], 0
    text = "\n".join(lines)
    # directives by the line their comment ends on
    marker_at = {}
    for m in MARKER.finditer(text):
        marker_at[text.count("\n", 0, m.end())] = _parse_directives(m.group(1))
    while i < len(lines):
        if i in marker_at:
            pending += marker_at[i]
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, language = m.group(1), m.group(2).lower()
        j = i + 1
        while j < len(lines) and not lines[j].startswith(fence[0] * len(fence)):
            j += 1
        block = Block(doc, i + 1, language, "\n".join(lines[i + 1:j]), pending)
        pending = []
        blocks.append(block)
        i = j + 1
    for block in blocks:
        _apply(block)
    return blocks


def _apply(block):
    if block.language in SHELL_LANGUAGES:
        block.commands = _commands_of(block.doc, block.line, block.body)
    by_text = {c.text: c for c in block.commands}

    def target(value, sep):
        command, _, rest = value.partition(sep)
        command = _normalise(command)
        if command == "*" and sep == " -- ":
            return list(block.commands), rest.strip()
        if command not in by_text:
            raise ValueError(f"{block.doc.relative_to(ROOT)}:{block.line}: the readme-test directive "
                             f"names {command!r}, which is not a command of the block below it")
        return [by_text[command]], rest.strip()

    for key, value in block.directives:
        if key == "file":
            block.files.append((value, block.body + "\n"))
        elif key == "setup":
            block.setup.append(value)
        elif key == "skip":
            commands, reason = target(value, " -- ")
            if not reason:
                raise ValueError(f"{block.doc.relative_to(ROOT)}:{block.line}: skip without a reason")
            for c in commands:
                c.skip_reason = reason
        elif key == "small":
            (command,), replacement = target(value, " => ")
            if replacement.split()[:1] != command.text.split()[:1] and not (
                    command.text.startswith("PYTHONPATH=") or replacement.startswith("PYTHONPATH=")):
                raise ValueError(f"{command.id}: the small override must run the same program")
            command.run_text = replacement
        elif key == "exit":
            (command,), code = target(value, " => ")
            command.exit_code = int(code)
        elif key == "prints":
            (command,), expected = target(value, " => ")
            command.prints.append(expected)


def _collect():
    documents = {}
    for doc in DOCUMENTS:
        documents[doc] = parse_document(doc)
    return documents


DOCS = _collect()
COMMANDS = [c for blocks in DOCS.values() for b in blocks for c in b.commands]


@pytest.fixture(scope="module")
def scratch(tmp_path_factory):
    """Per document: a scratch directory with the checkout linked into it, its files
    (file: directives) written, and an environment with `gcbench` on PATH."""
    bin_dir = tmp_path_factory.mktemp("bin")
    shim = bin_dir / "gcbench"
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m gcbench \"$@\"\n")
    shim.chmod(0o755)
    # a script, not a symlink: a virtual environment's interpreter finds its pyvenv.cfg
    # beside the path it was started by, so a symlink elsewhere would run the base Python
    python = bin_dir / "python"
    python.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} \"$@\"\n")
    python.chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "100"
    import gcbench_core.heap      # compiled kernels: skip the module otherwise (conftest's rule)
    packages = Path(gcbench_core.heap.__file__).resolve().parent.parent
    dirs = {}
    for doc, blocks in DOCS.items():
        d = tmp_path_factory.mktemp(doc.stem.lower())
        for name in LINKED:
            (d / name).symlink_to(ROOT / name)
        for name in PACKAGES:
            (d / name).symlink_to(packages / name)
        for block in blocks:
            for name, text in block.files:
                (d / name).write_text(text)
        dirs[doc] = d
    return dirs, env


def _block_of(command):
    return next(b for b in DOCS[command.doc] if command in b.commands)


_setup_done = set()


@pytest.mark.parametrize("command", COMMANDS, ids=[c.id for c in COMMANDS])
def test_readme_command(command, scratch):
    dirs, env = scratch
    if command.skip_reason:
        pytest.skip(f"documentation only: {command.skip_reason}")
    cwd = dirs[command.doc]
    block = _block_of(command)
    if id(block) not in _setup_done:
        _setup_done.add(id(block))
        for line in block.setup:
            proc = subprocess.run(["bash", "-c", line], cwd=cwd, env=env, capture_output=True,
                                  text=True, timeout=COMMAND_WALL_LIMIT_S)
            assert proc.returncode == 0, f"setup {line!r} failed: {proc.stderr[-2000:]}"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        proc = subprocess.run(["bash", "-o", "pipefail", "-c", command.run_text], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=COMMAND_WALL_LIMIT_S,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pytest.fail(f"{command.id}: `{command.run_text}` still ran after {COMMAND_WALL_LIMIT_S} s")
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    assert cpu < COMMAND_CPU_S, (f"{command.id}: `{command.run_text}` used {cpu:.0f} s of CPU, "
                                 f"more than {COMMAND_CPU_S} s: give it smaller parameters")
    output = proc.stdout + proc.stderr
    assert proc.returncode == command.exit_code, (
        f"{command.id}: `{command.run_text}` exited {proc.returncode}, the document says "
        f"{command.exit_code}\n{output[-3000:]}")
    for expected in command.prints:
        assert expected in output, f"{command.id}: `{command.run_text}` did not print {expected!r}\n{output[-3000:]}"


def test_every_shell_block_is_found():
    # the extraction itself: a known command of each document is among those found
    texts = {c.text for c in COMMANDS}
    assert "gcbench list" in texts
    assert any(t.startswith("PYTHONPATH=. python benchmarks/fidelity.py") for t in texts)
    # a continued line is one command
    assert any(t.startswith("gcbench run -c tricolor -w graph-mutate --opt barrier=none") and
               "--gogc 20" in t for t in texts)


def test_directives_are_checked(tmp_path, monkeypatch):
    # a directive naming a command its block does not hold is an error: markers stay true
    doc = tmp_path / "x.md"
    doc.write_text("<!-- readme-test\nskip: gcbench gone -- reason\n-->\n```sh\ngcbench list\n```\n")
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    with pytest.raises(ValueError, match="not a command of the block"):
        parse_document(doc)
    doc.write_text("<!-- readme-test\nskip: gcbench list\n-->\n```sh\ngcbench list\n```\n")
    with pytest.raises(ValueError, match="skip without a reason"):
        parse_document(doc)
    doc.write_text("<!-- readme-test\nsmall: gcbench list => gcbench list --help\n"
                   "exit: gcbench run y => 1\n-->\n```sh\ngcbench list\n"
                   "gcbench run x  # exits 1\n```\n")
    with pytest.raises(ValueError, match="not a command"):
        parse_document(doc)
    doc.write_text("<!-- readme-test\nsmall: gcbench list => gcbench list --help\n-->\n"
                   "```sh\ngcbench list\ngcbench run \\\n   x  # fails: exits 1\n```\n")
    (block,) = parse_document(doc)
    first, second = block.commands
    assert first.run_text == "gcbench list --help" and second.text == "gcbench run x"
    assert second.exit_code == 1
