import h5py
import numpy as np
import pytest
from PIL import Image

from lnet_edge.data.readers import list_samples, read_image, read_mask, read_pair
from lnet_edge.errors import LnetError
from tests.conftest import BIJIE, CAS, L4S, SICHUAN


@pytest.mark.parametrize("root", [BIJIE, CAS, SICHUAN], ids=["bijie", "cas", "sichuan"])
def test_colour_mask_sets(shared_data, root):
    samples = list_samples(root)
    assert len(samples) >= 12
    image, mask = read_pair(samples[0])
    assert image.dtype == np.uint8 and image.shape[2] == 3 and image.shape[:2] == mask.shape
    assert set(np.unique(mask).tolist()) == {0, 1}
    assert 0.0 < mask.mean() < 0.5


def test_sichuan_pairs_by_label_name(shared_data):
    s = list_samples(SICHUAN)[0]
    assert s.image.name == "Landslide001.png" and s.mask.name == "LandslideLabel001.png"


def test_rgb_order_matches_pillow(shared_data):
    s = list_samples(CAS)[0]
    assert (read_image(s.image) == np.asarray(Image.open(s.image).convert("RGB"))).all()


def test_grey_and_palette_codings_decode_like_colour(shared_data, tmp_path):
    s = list_samples(BIJIE)[0]
    ref = read_mask(s.mask)
    Image.fromarray(ref * 255).save(tmp_path / "grey255.png")
    Image.fromarray(ref).save(tmp_path / "grey01.png")
    pal = Image.fromarray(ref, mode="L").convert("P")
    pal.putpalette([0, 0, 0, 255, 255, 0] + [0] * 762)
    pal.save(tmp_path / "palette.png")
    assert Image.open(tmp_path / "palette.png").mode == "P"
    for name in ("grey255.png", "grey01.png", "palette.png"):
        assert (read_mask(tmp_path / name) == ref).all(), name


def test_l4s_hdf5_with_band_selection(shared_data):
    samples = list_samples(L4S)
    assert len(samples) == 21 and samples[0].mask.name.startswith("mask_")
    image, mask = read_pair(samples[0])
    assert image.shape == (128, 128, 14) and image.dtype == np.float32
    rgb = read_image(samples[0].image, bands=(3, 2, 1))
    with h5py.File(samples[0].image) as f:
        raw = np.asarray(f["img"])
    assert np.allclose(rgb, raw[:, :, [3, 2, 1]])
    assert set(np.unique(mask).tolist()) <= {0, 1}


def test_too_many_bands_asked(shared_data):
    with pytest.raises(LnetError, match="has 3 bands"):
        read_image(list_samples(BIJIE)[0].image, bands=(0, 1, 5))


def _pair(root, name, image, mask):
    (root / "images").mkdir(parents=True, exist_ok=True)
    (root / "masks").mkdir(parents=True, exist_ok=True)
    Image.fromarray(image).save(root / "images" / name)
    if mask is not None:
        Image.fromarray(mask).save(root / "masks" / name)


def test_bad_inputs(tmp_path):
    img = np.zeros((32, 32, 3), np.uint8)
    with pytest.raises(LnetError, match="does not exist"):
        list_samples(tmp_path / "nope")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    (tmp_path / "empty" / "masks").mkdir()
    with pytest.raises(LnetError, match="holds no images"):
        list_samples(tmp_path / "empty")
    _pair(tmp_path / "nomask", "a.png", img, None)
    with pytest.raises(LnetError, match="has no mask"):
        list_samples(tmp_path / "nomask")
    _pair(tmp_path / "size", "a.png", img, np.zeros((16, 32), np.uint8))
    with pytest.raises(LnetError, match="masks must have their image's size"):
        read_pair(list_samples(tmp_path / "size")[0])
    _pair(tmp_path / "values", "a.png", img, np.full((32, 32), 7, np.uint8))
    with pytest.raises(LnetError, match="outside its coding"):
        read_pair(list_samples(tmp_path / "values")[0])
    bad = tmp_path / "broken"
    _pair(bad, "a.png", img, np.zeros((32, 32), np.uint8))
    (bad / "images" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(LnetError, match="cannot be read"):
        read_pair(list_samples(bad)[0])
