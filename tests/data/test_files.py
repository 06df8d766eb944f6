"""Reading the user's own files (``historyad.data.files``): delimiters, numeric columns,
label and timestamp columns, Parquet and .npy, image folders (grey/colour, sizes, 16-bit)
and the errors that name the line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from historyad.data import load
from historyad.data.files import (
    InputSpec,
    column_names,
    read_image_folder,
    read_input,
    read_table,
    sniff_delimiter,
)
from historyad.data.folders import pixels_to_unit


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.mark.parametrize("delim", [",", ";", "\t", "|"])
def test_any_delimiter_numeric_columns_by_default(tmp_path: Path, delim: str):
    rows = ["time,a,name,b", "2020-01-01 00:00:00,1.5,x,2", "2020-01-01 00:00:01,2.5,y,-3e2"]
    path = _write(tmp_path / "t.csv", "\n".join(r.replace(",", delim) for r in rows) + "\n")
    data = read_table(path)
    assert data.delimiter == delim
    assert data.columns == ["a", "b"] and data.dropped == ["time", "name"]
    np.testing.assert_array_equal(data.X, np.array([[1.5, 2], [2.5, -300]], np.float32))
    assert data.ids == ["0", "1"] and data.labels is None
    assert column_names(path) == ["time", "a", "name", "b"]


def test_sniffing_prefers_the_consistent_split():
    assert sniff_delimiter(["a;b,c;d", "1;2,5;3"]) == ";"  # decimal commas inside fields
    assert sniff_delimiter(["value", "1.5"]) == ","  # one column


def test_chosen_columns_label_and_their_errors(tmp_path: Path):
    path = _write(tmp_path / "t.csv", "a,b,c,y\n1,2,3,0\n4,5,6,1\n7,8,9,0\n")
    data = read_table(path, InputSpec(columns=["c", "a"], label_column="y"))
    np.testing.assert_array_equal(data.X, [[3, 1], [6, 4], [9, 7]])
    np.testing.assert_array_equal(data.labels, [0, 1, 0])
    data = read_table(path, InputSpec(label_column="y"))
    assert data.columns == ["a", "b", "c"]  # the label is kept out of the features
    with pytest.raises(ValueError, match=r"'nope' is not a column; the columns are"):
        read_table(path, InputSpec(columns=["nope"]))
    bad = _write(tmp_path / "bad.csv", "a,b,y\n1,2,0\n3,,1\n5,x,0\n")
    with pytest.raises(ValueError, match=r"bad.csv:4: column 'b' is 'x', not a number"):
        read_table(bad, InputSpec(columns=["a", "b"]))
    gap = _write(tmp_path / "gap.csv", "a,b\n1,2\n\n3,\n")
    with pytest.raises(ValueError, match=r"gap.csv:4: column 'b' is 'empty'; a finite number"):
        read_table(gap)
    lab = _write(tmp_path / "lab.csv", "a,y\n1,0\n2,2\n")
    with pytest.raises(ValueError, match=r"lab.csv:3: label column 'y' is '2'; allowed are 0"):
        read_table(lab, InputSpec(label_column="y"))
    ragged = _write(tmp_path / "ragged.csv", "a,b\n1,2\n3,4,5\n")
    with pytest.raises(ValueError, match=r"ragged.csv:3: 3 fields, but the header has 2"):
        read_table(ragged)
    nohead = _write(tmp_path / "nohead.csv", "1,2\n3,4\n")
    with pytest.raises(ValueError, match="looks like data; a header line"):
        read_table(nohead)


def test_series_timestamps_kept_first_text_column_by_default(tmp_path: Path):
    path = _write(tmp_path / "s.csv", "when;x;y\n10:00;1;2\n10:01;3;4\n10:02;5;6\n")
    data = read_table(path, InputSpec(kind="series", window=2, stride=1))
    assert data.spec.timestamp_column == "when" and data.ids == ["10:00", "10:01", "10:02"]
    num = _write(tmp_path / "n.csv", "t,x\n100,1\n101,2\n")
    data = read_table(num, InputSpec(kind="series", window=1, timestamp_column="t"))
    assert data.ids == ["100", "101"] and data.columns == ["x"]
    with pytest.raises(ValueError, match="--stride 3 is larger than --window 2"):
        InputSpec(kind="series", window=2, stride=3)
    with pytest.raises(ValueError, match="--window W is needed"):
        InputSpec(kind="series")


def test_parquet_and_npy(tmp_path: Path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    table = pa.table({"a": [1.0, 2.0, 3.0], "flag": [True, False, True], "s": ["u", "v", "w"],
                      "y": [0, 0, 1]})
    pq.write_table(table, tmp_path / "t.parquet")
    data = read_table(tmp_path / "t.parquet", InputSpec(label_column="y"))
    assert data.columns == ["a", "flag"] and data.dropped == ["s"]
    np.testing.assert_array_equal(data.X[:, 1], [1, 0, 1])
    pq.write_table(pa.table({"a": [1.0, None]}), tmp_path / "null.parquet")
    with pytest.raises(ValueError, match=r"null.parquet: row 1: column 'a' is 'null'"):
        read_table(tmp_path / "null.parquet")
    np.save(tmp_path / "t.npy", np.arange(12.0).reshape(4, 3))
    data = read_table(tmp_path / "t.npy", InputSpec(columns=["2", "0"]))
    np.testing.assert_array_equal(data.X[:, 0], [2, 5, 8, 11])
    np.save(tmp_path / "img.npy", np.zeros((5, 1, 4, 4), np.float32))
    data = read_table(tmp_path / "img.npy")
    assert data.spec.kind == "array" and data.X.shape == (5, 1, 4, 4)
    with pytest.raises(ValueError, match="no pickles"):
        np.save(tmp_path / "obj.npy", np.array([{}], dtype=object), allow_pickle=True)
        read_table(tmp_path / "obj.npy")


def test_image_folder_grey_colour_sizes_and_one_scaling(tmp_path: Path):
    folder = tmp_path / "imgs"
    (folder / "sub").mkdir(parents=True)
    Image.fromarray(np.full((6, 5), 255, np.uint8), "L").save(folder / "a.png")
    Image.fromarray(np.zeros((6, 5), np.uint8), "L").save(folder / "sub" / "b.PNG")
    data = read_image_folder(folder)
    assert data.X.shape == (2, 1, 6, 5) and data.ids == ["a.png", "sub/b.PNG"]
    assert data.X[0].min() == 1.0 and data.X[1].max() == -1.0
    assert data.spec.channels == 1 and data.spec.image_shape == [6, 5]
    assert read_image_folder(folder, InputSpec(kind="images", channels=3)).X.shape == (2, 3, 6, 5)
    # a colour image makes the folder colour; different sizes need --size
    Image.new("RGB", (8, 8), (255, 0, 0)).save(folder / "c.jpg")
    with pytest.raises(ValueError, match=r"different sizes.*--size N"):
        read_image_folder(folder)
    data = read_image_folder(folder, InputSpec(kind="images", size=4))
    assert data.X.shape == (3, 3, 4, 4) and data.spec.channels == 3
    # the fitted size is enforced when scoring
    spec = InputSpec(kind="images", channels=1, image_shape=[7, 7])
    (folder / "c.jpg").unlink()
    with pytest.raises(ValueError, match="fitted on 7×7"):
        read_input(folder, spec)
    # 16-bit grey PNGs: scaled by 65535, the same function as 8-bit ones
    wide = tmp_path / "wide"
    wide.mkdir()
    Image.fromarray(np.array([[0, 65535]], np.uint16)).save(wide / "w.png")
    np.testing.assert_allclose(read_image_folder(wide).X.reshape(-1), [-1.0, 1.0])
    np.testing.assert_allclose(pixels_to_unit(np.array([0, 255], np.uint8)), [-1, 1])


def test_folder_loader_keeps_grey_images_grey(tmp_path: Path):
    base = tmp_path / "celeba"
    base.mkdir()
    for i in range(2):
        Image.fromarray(np.full((10, 10), 40 * i, np.uint8), "L").save(base / f"{i}.png")
    assert load("celeba", root=tmp_path, size=8).X.shape == (2, 1, 8, 8)
    assert load("celeba", root=tmp_path, size=8, channels=3).X.shape == (2, 3, 8, 8)


@pytest.mark.parametrize("size", [0, 3, 100_000, True])
def test_an_absurd_image_size_is_refused_before_reading(size) -> None:
    """--size 100000 used to allocate until the kernel killed the process."""
    from historyad.data.files import MAX_IMAGE_SIZE

    with pytest.raises(ValueError, match=f"from 4 to {MAX_IMAGE_SIZE}"):
        InputSpec(kind="images", size=size)


def test_decimal_commas_get_a_hint(tmp_path) -> None:
    path = tmp_path / "dc.csv"
    path.write_text("a;b\n0,942;1,5\n0,5;2,25\n1,0;0,75\n")
    with pytest.raises(ValueError, match="decimal commas"):
        read_table(path, InputSpec())
