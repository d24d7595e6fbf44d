"""Known model weight files: where they come from, their checksums, a local cache.

Each file is a `WeightFile` in `WEIGHTS`, keyed by a short name that
``vidtrace models list|download`` shows and accepts. Files are cached in
`cache_dir()`: the `cache` argument, else $VIDTRACE_CACHE, else
~/.cache/vidtrace. A file that torch.hub already downloaded
($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints) is used
in place when it has the same name and passes the same checks.

Checksums. `WeightFile.sha256` is either the full SHA-256 (64 hex digits) or
only a prefix of it, or None when no checksum is published anywhere:

- a full or prefix digest is verified on every download and on every `path()`
  (about 0.1 s per 100 MB, once per process while the file's size and
  modification time stay the same); a file that does not match is refused with a
  ModelError naming the file and both digests (for a prefix, the comparison is
  on the known digits only);
- for files with no known digest, `fetch()` writes the digest of what it
  downloaded next to the file (``NAME.sha256``, in ``sha256sum`` format) and
  `path()` checks the file against it later (trust on first download), so a
  file damaged after download is still caught;
- a known size is checked first (cheap).

Where each digest comes from is in the entry's `checksum_source`. Downloads go
to a temporary file in the cache directory that is verified before it is
renamed into place atomically, so an interrupted or corrupt download never
looks like a cached file.

Set VIDTRACE_OFFLINE=1 to forbid downloads: `path()` then only looks in the
cache and, when the file is missing, says how to get it.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from vidtrace.errors import ConfigError, ModelError

_CHUNK = 1 << 20
_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class WeightFile:
    """One downloadable weight file.

    name: registry key (what the CLI takes); url: where it is downloaded from;
    filename: its name in the cache (the URL's last component, so that a
    torch.hub copy is found too); sha256: full lower-case hex digest, a
    prefix of it (at least 8 digits), or None when unknown; size: bytes, or
    None when unknown; license: the terms it is published under;
    description: what it is; checksum_source: where sha256 and size come from.
    """

    name: str
    url: str
    filename: str
    sha256: str | None
    size: int | None
    license: str
    description: str
    checksum_source: str

    @property
    def digest_kind(self) -> str:
        """"full", "prefix" or "none": how much of the SHA-256 is known."""
        if not self.sha256:
            return "none"
        return "full" if len(self.sha256) == 64 else "prefix"


WEIGHTS: dict[str, WeightFile] = {}


def register_weights(entry: WeightFile) -> WeightFile:
    """Add `entry` to WEIGHTS (replacing one of the same name); returns it."""
    if entry.sha256 is not None:
        digest = entry.sha256.lower()
        if len(digest) < 8 or len(digest) > 64 or any(c not in "0123456789abcdef" for c in digest):
            raise ValueError(f"weight file {entry.name!r}: sha256 must be 8..64 hex digits, got {entry.sha256!r}")
    WEIGHTS[entry.name] = entry
    return entry


def _entry(name: str, url: str, sha256: str | None, size: int | None, license: str, description: str,
           checksum_source: str) -> WeightFile:
    # The cached file keeps the URL's last component as its name.
    return register_weights(WeightFile(name, url, url.rsplit("/", 1)[-1], sha256, size, license, description,
                                       checksum_source))


_UNPUBLISHED = "no checksum or size is published"

_entry("resnet50-imagenet1k-v1", "https://download.pytorch.org/models/resnet50-0676ba61.pth",
       "0676ba61b6795bbe1773cffd859882e5e297624d384b6993f7c9e683e722fb8a", 102_530_333,
       "BSD-3-Clause (torchvision); trained on ImageNet-1k, whose terms restrict use to non-commercial research",
       "torchvision ResNet-50 IMAGENET1K_V1 state dict (backbone of the L3-iMAC features)",
       "torchvision embeds the first 8 hex digits of the SHA-256 in the file name (0676ba61, checked by "
       "torch.hub); the full digest and size are as recorded by several independent public repositories that "
       "pin this file, and agree with that prefix")
_entry("visil-pca-resnet50-vcdb-1m", "http://ndd.iti.gr/visil/pca_resnet50_vcdb_1M.pth", None, None,
       "Apache-2.0 (MKLab-ITI/visil) / MIT (gkordo/s2vs); no separate terms stated for the file",
       "PCA whitening of 3840-d L3-iMAC region vectors learned on 1M VCDB regions (ViSiL, S2VS): torch-saved "
       "dict of tensors mean [3840], d [3840], V [3840, 3840]",
       f"URL from MKLab-ITI/visil (pytorch branch, model/layers.py) and gkordo/s2vs (model/layers.py); {_UNPUBLISHED}")
_entry("sscd-disc-mixup", "https://dl.fbaipublicfiles.com/sscd-copy-detection/sscd_disc_mixup.torchscript.pt",
       "9f26bd4c848cc19b73d2ae92eea6e04886f61a7b764ceb7a13aeee62e6a6db56", 98_791_638,
       "MIT (facebookresearch/sscd-copy-detection, relicensed from CC-BY-NC 4.0 on 2022-07-18)",
       "SSCD ResNet-50 'disc_mixup' TorchScript model: image -> 512-d L2-normalised descriptor",
       "URL from the facebookresearch/sscd-copy-detection README; Meta publishes no checksum: the digest is as "
       "pinned by several independent public projects, the size as recorded by one")
_entry("visil", "http://ndd.iti.gr/visil/visil.pth", None, None,
       "Apache-2.0 (MKLab-ITI/visil); no separate terms stated for the file",
       "ViSiL similarity head (attention + video comparator, 3840-d regions) state dict",
       f"URL from MKLab-ITI/visil (pytorch branch, model/visil.py); {_UNPUBLISHED}")
for _name, _data in (("dns", "DnS-100K"), ("vcdb", "VCDB")):
    _entry(f"s2vs-{_name}", f"https://mever.iti.gr/s2vs/weights/s2vs_{_name}.pth", None, None,
           "MIT (gkordo/s2vs); no separate terms stated for the file",
           f"S2VS video similarity network trained on {_data} (checkpoint dict, weights under 'model')",
           f"URL from gkordo/s2vs (model/similarity_network.py); {_UNPUBLISHED}")
del _name, _data


# ---------------------------------------------------------------- lookup
def get_weights(name: str) -> WeightFile:
    """The registered entry `name` (its file name is accepted too); ConfigError lists the valid names."""
    entry = WEIGHTS.get(name)
    if entry is None:
        entry = next((w for w in WEIGHTS.values() if w.filename == name), None)
    if entry is None:
        raise ConfigError(f"unknown weight file {name!r}; choose one of: {', '.join(sorted(WEIGHTS))}")
    return entry


def cache_dir(cache: str | os.PathLike | None = None) -> Path:
    """The cache directory: `cache`, else $VIDTRACE_CACHE, else ~/.cache/vidtrace (not created here)."""
    if cache is not None:
        return Path(cache).expanduser()
    env = os.environ.get("VIDTRACE_CACHE")
    if env:
        return Path(env).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "vidtrace"


def torch_hub_dir() -> Path:
    """Where torch.hub keeps downloaded checkpoints ($TORCH_HOME/hub/checkpoints)."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        home = os.path.join(base, "torch")
    return Path(home).expanduser() / "hub" / "checkpoints"


def cached_file(name: str, cache: str | os.PathLike | None = None) -> Path | None:
    """The first existing copy of `name` (cache, then torch.hub's directory), unverified; None if none."""
    entry = get_weights(name)
    for folder in (cache_dir(cache), torch_hub_dir()):
        candidate = folder / entry.filename
        if candidate.is_file():
            return candidate
    return None


# ---------------------------------------------------------------- checks
def sha256_file(path: str | os.PathLike) -> str:
    """Lower-case hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


@functools.lru_cache(maxsize=32)
def _digest_of(path: str, size: int, mtime_ns: int, ctime_ns: int, inode: int) -> str:
    # Keyed by the file's stat, so a file that is changed or replaced is hashed again.
    return sha256_file(path)


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".sha256")


def _read_stamp(path: Path) -> str | None:
    try:
        text = _stamp(path).read_text().split()
    except OSError:
        return None
    return text[0].lower() if text else None


def _how_to_get(entry: WeightFile, target: Path) -> str:
    return (f"get it with `vidtrace models download {entry.name}` (needs internet), or download {entry.url} "
            f"yourself and put it at {target}")


def _mismatch(entry: WeightFile, size: int, digest: str | None, recorded: str | None = None) -> str | None:
    """What is wrong with a file of `size` bytes and SHA-256 `digest` (None: not computed), or None."""
    if entry.size is not None and size != entry.size:
        return f"{size} bytes, expected {entry.size} for {entry.name} ({entry.url})"
    expected = (entry.sha256 or "").lower()
    if digest is not None and expected and not digest.startswith(expected):
        return f"SHA-256 {digest} does not match the expected {expected} for {entry.name} ({entry.url})"
    if digest is not None and not expected and recorded and digest != recorded:
        return (f"SHA-256 {digest} does not match {recorded}, recorded when it was downloaded, "
                f"for {entry.name} ({entry.url})")
    return None


def verify_file(entry: WeightFile, path: str | os.PathLike) -> str:
    """Check a cached file against `entry` (size, then SHA-256 or the digest
    recorded at download); returns its SHA-256. Raises ModelError naming the
    file, the expected and the actual value on mismatch."""
    path = Path(path)
    st = path.stat()
    size = st.st_size
    problem = _mismatch(entry, size, None)
    digest = None
    if problem is None:
        digest = _digest_of(str(path.resolve()), size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        problem = _mismatch(entry, size, digest, _read_stamp(path))
    if problem:
        raise ModelError(f"{path}: {problem}; the file is corrupt or not the right one: delete it, then "
                         f"`vidtrace models download {entry.name}`")
    return digest


# ---------------------------------------------------------------- download
Opener = Callable[..., object]


def _network_problem(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    if code is not None:
        return f"HTTP {code} {getattr(exc, 'reason', '')}".strip()
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def fetch(name: str, cache: str | os.PathLike | None = None, *, force: bool = False, opener: Opener | None = None,
          progress: Callable[[int, int | None], None] | None = None) -> Path:
    """Download weight file `name` into the cache (unless a verified copy is there) and return its path.

    The bytes go to a temporary file in the cache directory, are checked
    against the known size and SHA-256, and only then renamed into place
    (atomic on one file system). force: download even when cached.
    opener: urllib.request.urlopen-like callable (url, timeout=...) -> a
    response with read(n) and optional headers (tests pass their own).
    progress: called with (bytes so far, total bytes or None).
    Raises ModelError on network failure (with how to get the file by hand)
    and on a checksum mismatch (naming both digests).
    """
    entry = get_weights(name)
    folder = cache_dir(cache)
    target = folder / entry.filename
    if target.is_file() and not force:
        verify_file(entry, target)
        return target
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelError(f"{folder}: cannot create the weight cache directory ({exc.strerror or exc})") from None
    if opener is None:
        from urllib.request import urlopen as opener
    from http.client import HTTPException

    def network_error(exc: BaseException) -> ModelError:
        return ModelError(f"{entry.filename}: download of {entry.url} failed ({_network_problem(exc)}); "
                          f"{_how_to_get(entry, target)}")

    try:
        fd, tmp_name = tempfile.mkstemp(prefix=f".{entry.filename}.", suffix=".part", dir=folder)
    except OSError as exc:
        raise ModelError(f"{folder}: cannot write to the weight cache directory ({exc.strerror or exc})") from None
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    done = 0
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                response = opener(entry.url, timeout=_TIMEOUT_S)
            except (OSError, ValueError, HTTPException) as exc:  # URLError, HTTPError, timeouts
                raise network_error(exc) from None
            with response:
                headers = getattr(response, "headers", None)
                length = headers.get("Content-Length") if headers is not None else None
                total = int(length) if length and str(length).isdigit() else entry.size
                while True:
                    try:
                        chunk = response.read(_CHUNK)
                    except (OSError, ValueError, HTTPException) as exc:  # resets, IncompleteRead
                        raise network_error(exc) from None
                    if not chunk:
                        break
                    out.write(chunk)
                    digest.update(chunk)
                    done += len(chunk)
                    if progress is not None:
                        progress(done, total)
        actual = digest.hexdigest()
        problem = _mismatch(entry, done, actual)
        if problem:
            raise ModelError(f"{entry.filename} as downloaded: {problem}; the server sent a damaged or different "
                             f"file and nothing was saved: try again later, or download it by hand and put it at "
                             f"{target}")
        os.replace(tmp, target)
    except OSError as exc:
        raise ModelError(f"{target}: cannot write the downloaded weights ({exc.strerror or exc})") from None
    finally:
        tmp.unlink(missing_ok=True)
    if not entry.sha256:
        _stamp(target).write_text(f"{actual}  {entry.filename}\n")
    return target


def _offline() -> bool:
    return os.environ.get("VIDTRACE_OFFLINE", "").strip().lower() not in ("", "0", "false", "no")


def path(name: str, cache: str | os.PathLike | None = None, *, download: bool = True,
         opener: Opener | None = None) -> Path:
    """Local path of weight file `name`, verified; downloads it first when missing.

    Looks in the cache, then in torch.hub's checkpoint directory. When the
    file is in neither and downloading is off (download=False or
    VIDTRACE_OFFLINE=1) or fails (no network), raises ModelError naming the
    file, its URL and how to get it. A copy that fails its checks raises
    ModelError naming the file and both digests (it is not replaced silently).
    """
    entry = get_weights(name)
    found = cached_file(name, cache)
    if found is not None:
        verify_file(entry, found)
        return found
    target = cache_dir(cache) / entry.filename
    if not download or _offline():
        why = "and VIDTRACE_OFFLINE forbids downloading" if download else "and downloading is off"
        raise ModelError(f"{entry.filename}: model weights for {entry.name} are missing {why}; "
                         f"{_how_to_get(entry, target)}")
    return fetch(name, cache, opener=opener)
