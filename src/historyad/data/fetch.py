"""Where dataset files live, checksum verification and (opt-in) download with pooch.

Lookup order for the data folder: the explicit ``root`` argument, else the ``HISTORYAD_DATA``
environment variable, else ``pooch.os_cache("historyad")``. A dataset's files are looked for in
``<data folder>/<dataset name>/`` (e.g. ``root/mnist/train-images-idx3-ubyte.gz``).

Loading is offline by default: a missing file raises FileNotFoundError. ``download=True``
fetches the canonical file with pooch, checking its SHA-256. A local file whose canonical
SHA-256 is known is verified on load (hashing MNIST takes ~50 ms; results are remembered per
process, keyed by path, size and mtime); ``verify=False`` skips that for private copies.
"""

from __future__ import annotations

import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

ENV_VAR = "HISTORYAD_DATA"


@dataclass(frozen=True)
class RemoteFile:
    """A canonical file: its SHA-256 (None when unknown) and download URLs (mirrors, in order)."""

    sha256: str | None
    urls: tuple[str, ...] = ()


def _idx_files(bases: tuple[str, ...], sums: dict[str, str]) -> dict[str, RemoteFile]:
    return {f: RemoteFile(h, tuple(f"{b}/{f}" for b in bases)) for f, h in sums.items()}


# SHA-256 values: MNIST / KMNIST from the shared data folder's SHA256SUMS and README (which match
# torchvision's prototype datasets); Fashion-MNIST, SVHN and CIFAR-10 from torchvision's
# prototype datasets (torchvision/prototype/datasets/_builtin/{mnist,svhn,cifar}.py).
REMOTE_FILES: dict[str, dict[str, RemoteFile]] = {
    "mnist": _idx_files(
        ("https://ossci-datasets.s3.amazonaws.com/mnist", "http://yann.lecun.com/exdb/mnist"),
        {
            "train-images-idx3-ubyte.gz": (
                "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
            ),
            "train-labels-idx1-ubyte.gz": (
                "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6"
            ),
        },
    ),
    "fashion-mnist": _idx_files(
        ("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com",),
        {
            "train-images-idx3-ubyte.gz": (
                "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84"
            ),
            "train-labels-idx1-ubyte.gz": (
                "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5"
            ),
        },
    ),
    "kmnist": _idx_files(
        ("http://codh.rois.ac.jp/kmnist/dataset/kmnist",),
        {
            "train-images-idx3-ubyte.gz": (
                "51467d22d8cc72929e2a028a0428f2086b092bb31cfb79c69cc0a90ce135fde4"
            ),
            "train-labels-idx1-ubyte.gz": (
                "e38f9ebcd0f3ebcdec7fc8eabdcdaef93bb0df8ea12bee65224341c8183d8e17"
            ),
            "t10k-images-idx3-ubyte.gz": (
                "edd7a857845ad6bb1d0ba43fe7e794d164fe2dce499a1694695a792adfac43c5"
            ),
            "t10k-labels-idx1-ubyte.gz": (
                "20bb9a0ef54c7db3efc55a92eef5582c109615df22683c380526788f98e42a1c"
            ),
        },
    ),
    "svhn": {
        "train_32x32.mat": RemoteFile(
            "435e94d69a87fde4fd4d7f3dd208dfc32cb6ae8af2240d066de1df7508d083b8",
            ("http://ufldl.stanford.edu/housenumbers/train_32x32.mat",),
        ),
        "test_32x32.mat": RemoteFile(
            "cdce80dfb2a2c4c6160906d0bd7c68ec5a99d7ca4831afa54f09182025b6a75b",
            ("http://ufldl.stanford.edu/housenumbers/test_32x32.mat",),
        ),
    },
    "cifar10": {
        "cifar-10-python.tar.gz": RemoteFile(
            "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
            ("https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",),
        ),
    },
    # Known checksums (shared data SHA256SUMS) but no stable canonical URL: verified, not fetched.
    "basicmotions": {
        "BasicMotions_TRAIN.ts": RemoteFile(
            "8dc43cc6306cb679c888c01e26f91772ac4441a916da43bac8b79734a538b9d6"
        ),
        "BasicMotions_TEST.ts": RemoteFile(
            "79213102bc6fca1a398ad98ce1185dff0208fa3d1465e687f48288946b0ff8dc"
        ),
    },
    "daphnet": {
        "S06R02E0.csv": RemoteFile(
            "5a1d2990fec3846c3e1bc43487f0860e63434bd06b3df763012e97ce23d0d84c"
        ),
    },
}

# Where to get the data by hand when no verified download is known.
MANUAL_SOURCES: dict[str, str] = {
    "uci-har": "https://archive.ics.uci.edu/dataset/240 (unzip 'UCI HAR Dataset' into it)",
    "celeba": "https://mmlab.ie.cuhk.edu.hk/projects/CelebA.html (img_align_celeba/*.jpg)",
    "tiny-imagenet": "http://cs231n.stanford.edu/tiny-imagenet-200.zip (unzipped)",
    "basicmotions": "https://timeseriesclassification.com (BasicMotions, .ts files)",
    "daphnet": "the aeon package, aeon/datasets/data/Daphnet_S06R02E0/",
}

_VERIFIED: dict[tuple[str, int, int], str] = {}


def data_home(root: str | os.PathLike[str] | None = None) -> Path:
    """The data folder: `root`, else ``$HISTORYAD_DATA``, else ``pooch.os_cache("historyad")``."""
    if root is not None:
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    import pooch

    return Path(pooch.os_cache("historyad"))


def dataset_dir(name: str, root: str | os.PathLike[str] | None = None) -> Path:
    """``<data folder>/<name>``: where the files of dataset `name` are looked for."""
    return data_home(root) / name


def is_downloadable(name: str) -> bool:
    """True when every canonical file of `name` has a URL and a known SHA-256."""
    files = REMOTE_FILES.get(name, {})
    return bool(files) and all(f.urls and f.sha256 for f in files.values())


def sha256sum(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify_file(path: Path, expected: str, *, label: str) -> None:
    """Raise ValueError when the SHA-256 of `path` is not `expected` (memoised per process)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    got = _VERIFIED.get(key)
    if got is None:
        got = sha256sum(path)
        _VERIFIED[key] = got
    if got != expected:
        raise ValueError(
            f"{path}: SHA-256 {got} does not match the canonical {expected} of {label}; the file "
            "is corrupt, truncated or another version. Delete it and load with download=True, or "
            "pass verify=False to load a private copy anyway"
        )


def _missing_message(name: str, filename: str, path: Path, *, hint: str = "") -> str:
    where = (
        f"{filename!r} of dataset {name!r} was not found: looked for {path}. Put the file there, "
        f"pass root=<folder holding {name}/>, or set the {ENV_VAR} environment variable to such a "
        "folder"
    )
    if is_downloadable(name):
        where += ", or pass download=True to fetch it (SHA-256 checked)"
    else:
        source = MANUAL_SOURCES.get(name, "its publisher")
        where += (
            f". download=True is not available for {name!r} (no canonical URL with a known "
            f"checksum); get it from {source}"
        )
    return where + (f". {hint}" if hint else "")


def fetch(
    name: str,
    filename: str,
    *,
    root: str | os.PathLike[str] | None = None,
    download: bool = False,
    verify: bool = True,
    hint: str = "",
) -> Path:
    """The local path of `filename` of dataset `name`, verified and downloaded on request.

    Raises:
        FileNotFoundError: the file is absent and ``download`` is False or impossible.
        ValueError: its SHA-256 is known and differs (when ``verify``).
    """
    directory = dataset_dir(name, root)
    path = directory / filename
    remote = REMOTE_FILES.get(name, {}).get(filename)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(_missing_message(name, filename, path, hint=hint))
        if remote is None or not remote.urls or not remote.sha256:
            raise FileNotFoundError(_missing_message(name, filename, path, hint=hint))
        _download(remote, filename, directory)
        return path
    if verify and remote is not None and remote.sha256:
        verify_file(path, remote.sha256, label=f"{name}/{filename}")
    return path


def _download(remote: RemoteFile, filename: str, directory: Path) -> None:
    """Fetch `filename` into `directory`, trying each mirror; pooch checks the SHA-256."""
    import pooch

    directory.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for url in remote.urls:
        try:
            logger.info("downloading %s to %s", url, directory)
            pooch.retrieve(
                url,
                known_hash=f"sha256:{remote.sha256}",
                fname=filename,
                path=str(directory),
                progressbar=False,
            )
            if (directory / filename).is_file():
                return
            errors.append(f"{url}: no file written")
        except Exception as exc:  # network errors differ by backend; report them all
            errors.append(f"{url}: {type(exc).__name__}: {exc}")
    raise RuntimeError(f"download of {filename!r} failed from every mirror: {'; '.join(errors)}")


__all__ = [
    "ENV_VAR",
    "MANUAL_SOURCES",
    "REMOTE_FILES",
    "RemoteFile",
    "data_home",
    "dataset_dir",
    "fetch",
    "is_downloadable",
    "sha256sum",
    "verify_file",
]
