"""Image-folder datasets: CelebA-like and Tiny-ImageNet-like layouts written with Pillow."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from historyad.data import load


def _img(path: Path, color: tuple[int, int, int], size: tuple[int, int] = (40, 48)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, color).save(path)


def test_celeba_folder_one_class(tmp_path: Path):
    base = tmp_path / "celeba" / "img_align_celeba"
    _img(base / "000001.jpg", (255, 0, 0))
    _img(base / "000002.png", (0, 255, 0))
    Image.new("L", (20, 20), 0).save(base / "000003.PNG")  # grayscale, upper-case suffix
    (base / "notes.txt").write_text("ignored")
    ds = load("celeba", root=tmp_path)
    assert ds.X.shape == (3, 3, 32, 32) and ds.kind == "image"
    assert ds.classes == ["celeba"] and (ds.y == 0).all() and ds.is_train.all()
    red = ds.X[0]
    assert red[0].min() > 0.95 and red[1].max() < -0.95  # R ≈ 1, G ≈ -1 after scaling
    assert ds.X[2].max() == -1.0
    assert load("celeba", root=tmp_path, size=16).X.shape == (3, 3, 16, 16)
    assert len(load("celeba", root=tmp_path, limit=2)) == 2
    with pytest.raises(FileNotFoundError, match="split='test'"):
        load("celeba", root=tmp_path, split="test")


def test_celeba_partition_file(tmp_path: Path):
    base = tmp_path / "celeba"
    for i in range(1, 5):
        _img(base / "img_align_celeba" / f"{i:06d}.jpg", (i * 40, 0, 0))
    (base / "list_eval_partition.txt").write_text(
        "000001.jpg 0\n000002.jpg 1\n000003.jpg 2\n000004.jpg 2\n"
    )
    ds = load("celeba", root=tmp_path)
    np.testing.assert_array_equal(ds.is_train, [True, True, False, False])
    assert len(load("celeba", root=tmp_path, split="test")) == 2
    (base / "list_eval_partition.txt").write_text("000001.jpg train\n")
    with pytest.raises(ValueError, match=r"list_eval_partition.txt:1"):
        load("celeba", root=tmp_path)


def test_tiny_imagenet_classes_and_splits(tmp_path: Path):
    base = tmp_path / "tiny-imagenet" / "tiny-imagenet-200"
    for wnid, color in (("n01443537", (255, 0, 0)), ("n01629819", (0, 0, 255))):
        for k in range(2):
            _img(base / "train" / wnid / "images" / f"{wnid}_{k}.JPEG", color, (64, 64))
    _img(base / "val" / "images" / "val_0.JPEG", (0, 0, 255), (64, 64))
    (base / "val" / "val_annotations.txt").write_text("val_0.JPEG\tn01629819\t0\t0\t63\t63\n")
    _img(base / "test" / "images" / "test_0.JPEG", (9, 9, 9), (64, 64))  # unlabelled: skipped
    ds = load("tiny-imagenet", root=tmp_path)
    assert ds.classes == ["n01443537", "n01629819"]
    assert len(ds) == 5 and ds.is_train.sum() == 4
    test = load("tiny-imagenet", root=tmp_path, split="test")
    assert len(test) == 1 and test.y[0] == 1 and test.X[0, 2].min() > 0.95


def test_folder_errors(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="download=True is not available for 'celeba'"):
        load("celeba", root=tmp_path)
    bad = tmp_path / "celeba" / "broken.jpg"
    bad.parent.mkdir()
    bad.write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"broken.jpg: not a readable image"):
        load("celeba", root=tmp_path)
    with pytest.raises(ValueError, match="size=0"):
        load("celeba", root=tmp_path, size=0)
    with pytest.raises(ValueError, match="limit=0"):
        load("celeba", root=tmp_path, limit=0)
