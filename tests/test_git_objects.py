"""The object reader against git itself: every object of real repositories, packed in the
ways git packs them (loose, offset deltas, reference deltas, deep chains, big objects), read
by ciswitch and by ``git cat-file``, byte for byte; and the cases it must leave to git."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pytest
from gitrepos import git, isolate_git

from ciswitch.gitops.objects import ObjectReader, apply_delta


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    isolate_git(monkeypatch, tmp_path)


def history(path: Path, commits: int = 30) -> Path:
    """A repository whose files change a little in every commit (so that packs delta them),
    with a blob bigger than zlib's and the delta format's 64 KiB steps, and a subdirectory."""
    git(path.parent, "init", "-q", "-b", "main", path.name)
    rng = random.Random(7)
    lines = [f"line {i}: {rng.random()}\n" for i in range(3000)]
    for k in range(commits):
        lines[rng.randrange(len(lines))] = f"changed in {k}\n"
        (path / "big.txt").write_text("".join(lines))
        (path / "src").mkdir(exist_ok=True)
        (path / "src" / f"m{k % 5}.py").write_text(f"def f():\n    return {k}\n" * 50)
        (path / "blob.bin").write_bytes(rng.randbytes(70_000))
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"commit {k}")
    return path


def all_objects(repo: Path) -> list[tuple[str, str]]:
    out = git(repo, "cat-file", "--batch-all-objects", "--batch-check=%(objectname) %(objecttype)")
    return [tuple(line.split()) for line in out.splitlines()]  # type: ignore[misc]


def git_content(repo: Path, sha: str) -> bytes:
    return subprocess.run(["git", "cat-file", "--batch"], cwd=repo,
                          input=f"{sha}\n".encode(), capture_output=True,
                          check=True).stdout.split(b"\n", 1)[1][:-1]


def assert_reads_like_git(repo: Path) -> int:
    reader = ObjectReader(repo / ".git" / "objects")
    objects = all_objects(repo)
    for sha, kind in objects:
        found = reader.read(bytes.fromhex(sha))
        assert found is not None, (sha, kind)
        assert found[0].decode() == kind
        assert found[1] == git_content(repo, sha), (sha, kind)
    reader.close()
    return len(objects)


def deltas(repo: Path) -> int:
    """How many objects git stored as deltas (``verify-pack -v`` gives their base)."""
    packs = sorted((repo / ".git" / "objects" / "pack").glob("*.idx"))
    count = 0
    for idx in packs:
        for line in git(repo, "verify-pack", "-v", str(idx)).splitlines():
            fields = line.split()
            if len(fields) == 7 and len(fields[0]) == 40:  # sha type size packed offset depth base
                count += 1
    return count


def test_loose_objects(tmp_path: Path) -> None:
    repo = history(tmp_path / "r", commits=4)
    assert not list((repo / ".git" / "objects" / "pack").glob("*.pack"))
    assert assert_reads_like_git(repo) > 10


def test_offset_deltas_with_deep_chains(tmp_path: Path) -> None:
    repo = history(tmp_path / "r")
    git(repo, "repack", "-a", "-d", "-f", "--depth=100", "--window=50")
    assert deltas(repo) > 20
    assert assert_reads_like_git(repo) > 100


def test_reference_deltas(tmp_path: Path) -> None:
    repo = history(tmp_path / "r")
    git(repo, "-c", "repack.useDeltaBaseOffset=false", "repack", "-a", "-d", "-f")
    assert deltas(repo) > 20
    assert assert_reads_like_git(repo) > 100


def test_a_clone_over_the_pack_protocol_and_objects_written_after_it(tmp_path: Path) -> None:
    source = history(tmp_path / "src", commits=10)
    git(tmp_path, "clone", "-q", "--no-checkout", source.resolve().as_uri(), "clone")
    clone = tmp_path / "clone"
    reader = ObjectReader(clone / ".git" / "objects")
    head = git(clone, "rev-parse", "HEAD")
    assert reader.read(bytes.fromhex(head)) is not None
    # a commit written after the reader mapped the packs: a loose object, found
    tree = git(clone, "rev-parse", "HEAD^{tree}")
    new = git(clone, "commit-tree", tree, "-p", head, "-m", "later")
    found = reader.read(bytes.fromhex(new))
    assert found is not None and found[0] == b"commit" and b"later" in found[1]
    reader.close()
    assert assert_reads_like_git(clone) > 30


def test_what_is_left_to_git(tmp_path: Path) -> None:
    source = history(tmp_path / "src", commits=3)
    git(source, "config", "uploadpack.allowFilter", "true")
    head = git(source, "rev-parse", "HEAD")
    blob = git(source, "rev-parse", "HEAD:big.txt")
    # a partial clone has no blobs: the reader says so, git fetches them
    git(tmp_path, "clone", "-q", "--no-checkout", "--filter=blob:none",
        source.resolve().as_uri(), "partial")
    partial = ObjectReader(tmp_path / "partial" / ".git" / "objects")
    assert partial.read(bytes.fromhex(head)) is not None
    assert partial.read(bytes.fromhex(blob)) is None
    # an object store with alternates: never guessed at
    git(tmp_path, "clone", "-q", "--shared", "--no-checkout", str(source), "shared")
    assert ObjectReader(tmp_path / "shared" / ".git" / "objects").read(
        bytes.fromhex(head)) is None
    # an object nobody has
    assert ObjectReader(source / ".git" / "objects").read(b"\1" * 20) is None
    # a damaged pack is not believed: what is read is what git wrote, or nothing
    git(source, "repack", "-a", "-d")
    objects = all_objects(source)
    before = {sha: git_content(source, sha) for sha, _kind in objects}
    pack = next((source / ".git" / "objects" / "pack").glob("*.pack"))
    data = bytearray(pack.read_bytes())
    pack.chmod(0o644)
    for at in range(12, len(data) - 20, 97):
        data[at] ^= 0xFF
    pack.write_bytes(bytes(data))
    damaged = ObjectReader(source / ".git" / "objects")
    results = [damaged.read(bytes.fromhex(sha)) for sha, _kind in objects]
    assert results.count(None) > len(objects) // 2
    for (sha, _kind), found in zip(objects, results, strict=True):
        assert found is None or found[1] == before[sha], sha


def test_a_delta_copying_64_kib_at_once() -> None:
    base = bytes(range(256)) * 300
    # header: source size, target size (base 128); copy op with size bytes absent: 0x10000
    def size(n: int) -> bytes:
        out = bytearray()
        while True:
            out.append((n & 0x7F) | (0x80 if n >> 7 else 0))
            n >>= 7
            if not n:
                return bytes(out)
    delta = size(len(base)) + size(0x10000 + 3) + bytes([0x80 | 0x01, 0x05]) + b"\x03abc"
    assert apply_delta(base, delta) == base[5:5 + 0x10000] + b"abc"


def test_tree_listing_is_what_ls_tree_lists(tmp_path: Path) -> None:
    import git as gitpython

    from ciswitch.gitops.objects import tree_listing

    repo = history(tmp_path / "r", commits=3)
    (repo / "deep" / "er").mkdir(parents=True)
    (repo / "deep" / "er" / "run.sh").write_text("echo\n")
    (repo / "deep" / "er" / "run.sh").chmod(0o755)
    (repo / "link").symlink_to("deep/er/run.sh")
    (repo / "ünïcode name.yml").write_text("a: 1\n")
    git(repo, "add", "-A")
    sub = git(repo, "rev-parse", "HEAD")
    git(repo, "update-index", "--add", "--cacheinfo", f"160000,{sub},vendor/sub")
    git(repo, "commit", "-q", "-m", "more")
    head = git(repo, "rev-parse", "HEAD")
    out = subprocess.run(["git", "ls-tree", "-r", "-t", "-z", "--full-tree", head], cwd=repo,
                         capture_output=True, check=True).stdout.decode()
    expected = set()
    for record in filter(None, out.split("\0")):
        meta, _tab, path = record.partition("\t")
        mode, _kind, sha = meta.split(" ")
        expected.add((int(mode, 8), sha, path))
    handle = gitpython.Repo(repo)
    try:
        found = tree_listing(handle, head)
    finally:
        handle.close()
    assert found is not None and set(found) == expected and len(found) == len(expected)
    assert {mode for mode, _sha, _path in found} >= {0o040000, 0o100644, 0o100755, 0o120000,
                                                     0o160000}


def test_files_at_a_ref_read_like_git(tmp_path: Path) -> None:
    from ciswitch.gitops.objects import files_at

    repo = history(tmp_path / "r", commits=3)
    (repo / "link.txt").symlink_to("big.txt")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "link")
    names = ["big.txt", "src/m1.py", "src", "absent.toml", "src/absent.py", "big.txt/x"]
    want = {name: subprocess.run(["git", "show", f"HEAD:{name}"], cwd=repo, capture_output=True,
                                 check=True).stdout for name in ("big.txt", "src/m1.py")}
    git_dir = repo / ".git"
    assert files_at(git_dir, "refs/heads/main", names) == want  # a loose ref
    git(repo, "pack-refs", "--all")
    assert not (git_dir / "refs" / "heads" / "main").exists()
    assert files_at(git_dir, "refs/heads/main", names) == want  # a packed one
    assert files_at(git_dir, "refs/heads/absent", names) == {}
    assert files_at(git_dir, "refs/heads/main", ["link.txt"]) is None  # a symlink: git's
    git(repo, "symbolic-ref", "refs/heads/alias", "refs/heads/main")
    assert files_at(git_dir, "refs/heads/alias", names) is None
