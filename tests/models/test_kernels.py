"""kernels.build: the first set of extra flags the compiler accepts wins; a failed build leaves the target as it was."""

import subprocess
from pathlib import Path

import pytest

from textgan.models import kernels

PROGRAM = "int main(void) { return CODE; }\n"

# tries (extra flags, in order) -> the exit code of the program built, or None when no try builds
CASES = [
    ((["-DCODE=3"],), 3),
    ((["-DCODE=5", "--no-such-flag"], ["-DCODE=7"]), 7),
    ((["--no-such-flag"], ["-DCODE=9"], ["-DCODE=11"]), 9),
    ((["--no-such-flag"], ["-DCODE"]), 1),  # -DCODE defines it as 1
    ((["--no-such-flag"], ["--nor-this-one"]), None),
]


@pytest.mark.parametrize("tries, code", CASES)
def test_build_takes_the_first_accepted_flags(tmp_path: Path, tries: tuple[list[str], ...], code: int | None) -> None:
    cc = kernels.compiler()
    if cc is None:
        pytest.skip("no C compiler")
    source, target = tmp_path / "probe.c", tmp_path / "out" / "probe"
    source.write_text(PROGRAM)
    target.parent.mkdir()
    target.write_text("kept")
    assert kernels.build(cc, [source], target, ["-O0"], tries) == (code is not None)
    if code is None:
        assert target.read_text() == "kept"
    else:
        assert subprocess.run([str(target)]).returncode == code
    assert sorted(p.name for p in target.parent.iterdir()) == ["probe"]  # no temporary left behind
