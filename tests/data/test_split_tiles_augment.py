import numpy as np
import pytest

from lnet_edge.data.augment import augment
from lnet_edge.data.readers import Sample, list_samples
from lnet_edge.data.split import split_samples, split_test
from lnet_edge.data.tiles import cut_tiles, tile_origins
from tests.conftest import BIJIE, BIJIE_NATIVE, CAS, SICHUAN


def test_split_is_by_image_deterministic_and_order_free(shared_data):
    samples = [s for r in (BIJIE, CAS, SICHUAN) for s in list_samples(r)]
    train, val = split_samples(samples)
    train2, val2 = split_samples(list(reversed(samples)))
    assert {s.key for s in val} == {s.key for s in val2}
    assert not {s.key for s in train} & {s.key for s in val}
    assert len(train) + len(val) == len(samples)
    assert {s.dataset for s in val} == {BIJIE.name, CAS.name, SICHUAN.name}
    # a dataset's split does not depend on which other datasets are present
    only_cas = split_samples(list_samples(CAS))[1]
    assert {s.key for s in only_cas} == {s.key for s in val if s.dataset == CAS.name}


def test_bijie_native_has_a_fixed_test_quarter_outside_train_and_validation(shared_data):
    native = list_samples(BIJIE_NATIVE)
    others = [s for r in (BIJIE, CAS, SICHUAN) for s in list_samples(r)]
    dev, test = split_test(native + others)
    assert len(test) == 184 and {s.dataset for s in test} == {BIJIE_NATIVE.name}
    train, val = split_samples(list(reversed(native + others)))
    keys = {s.key for s in test}
    assert not keys & {s.key for s in train} and not keys & {s.key for s in val}
    assert len(train) + len(val) + len(test) == len(native) + len(others)
    assert {s.key for s in split_test(native)[1]} == keys  # fixed whatever else is given
    assert sum(s.dataset == BIJIE_NATIVE.name for s in val) == 110  # 20 % of the other 550
    # the other sets keep the split they have always had (no test part)
    assert {s.key for s in split_samples(others)[1]} == {s.key for s in val if s.dataset != BIJIE_NATIVE.name}


def test_split_keeps_every_tile_of_an_image_together():
    samples = [
        Sample("set", __import__("pathlib").Path(f"{i}.png"), __import__("pathlib").Path(f"{i}.png")) for i in range(20)
    ]
    _, val = split_samples(samples, 0.25)
    assert len(val) == 5


@pytest.mark.parametrize("length,tile", [(256, 256), (600, 256), (1024, 256), (100, 256)])
def test_tile_origins_cover(length, tile):
    o = tile_origins(length, tile)
    assert o[0] == 0 and o[-1] + tile >= length
    assert all(b - a <= tile for a, b in zip(o, o[1:]))


def test_cut_tiles_pads_small_and_aligns():
    image = np.arange(100 * 150 * 3, dtype=np.uint8).reshape(100, 150, 3)
    mask = (image[:, :, 0] > 128).astype(np.uint8)
    tiles = cut_tiles(image, mask, 128)
    assert len(tiles) == 2 and all(t[0].shape == (128, 128, 3) and t[1].shape == (128, 128) for t in tiles)
    big = np.zeros((600, 547, 3), np.uint8)
    assert len(cut_tiles(big, big[:, :, 0], 256)) == 9


def test_augment_moves_image_and_mask_together():
    rng = np.random.default_rng(0)
    mask = np.zeros((64, 64), np.uint8)
    mask[5:20, 30:60] = 1
    image = np.repeat(mask[:, :, None] * 255, 3, axis=2).astype(np.float32)
    for _ in range(40):
        img, m = augment(image, mask, rng)
        assert img.shape == (64, 64, 3) and m.shape == (64, 64)
        # photometric changes keep bright where the mask is 1 and dark where it is 0
        bright = img.mean(axis=2) > 127
        assert (bright == m.astype(bool)).mean() > 0.95  # a misaligned pair scores about 0.7
