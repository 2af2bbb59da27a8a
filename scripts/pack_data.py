"""Pack image/mask folders into one compact file for a machine that has no ../shared (a rented
GPU), and unpack them there into the same layout, so training and evaluation run unchanged.

Images are stored as JPEG (quality 90, no chroma subsampling; a lossy re-encoding, stated in the file), WebP images
as they are (already lossy), and masks as PNG of 0/255; ``--skip-test`` leaves out the fixed test parts; names are kept, so the train/validation/test split (a hash of ``folder/stem``) is the
same on both sides. Bijie native alone packs into about 20 MiB, the four RGB sets into 32 MiB;
the checkout travels too, and all of it must stay under the GPU machine's 64 MiB.

Usage:
  python scripts/pack_data.py pack ../shared/data/bijie_native ... -o .carry/rgb.npz
  python scripts/pack_data.py unpack .carry/rgb.npz -o /tmp/data   # then lnet-edge train -d /tmp/data/bijie_native ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lnet_edge.data.readers import list_samples, read_pair  # noqa: E402
from lnet_edge.data.split import split_test  # noqa: E402

JPEG_QUALITY = 90


def pack(folders: list[Path], out: Path, quality: int = JPEG_QUALITY, skip_test: bool = False) -> None:
    arrays: dict[str, np.ndarray] = {}
    index = []
    for folder in folders:
        samples = list_samples(folder)
        test = {s.key for s in split_test(samples)[1]} if skip_test else set()
        for i, s in enumerate(samples):
            if s.key in test:  # never trained on: no need to carry it
                continue
            if s.image.suffix.lower() == ".webp":  # already lossy: carried as it is, not re-encoded
                _, mask = read_pair(s)
                ok_m, msk = cv2.imencode(".png", mask * 255)
                key = f"{s.dataset}/{i}"
                arrays[key + "/image"] = np.frombuffer(s.image.read_bytes(), dtype=np.uint8)
                arrays[key + "/mask"] = msk.ravel()
                index.append({"key": key, "dataset": s.dataset, "stem": s.image.stem, "suffix": ".webp"})
                continue
            image, mask = read_pair(s)
            if image.dtype != np.uint8 or image.shape[2] != 3:
                raise SystemExit(
                    f"{s.image}: only 3-band uint8 images are packed (got {image.dtype} x {image.shape[2]})"
                )
            params = [cv2.IMWRITE_JPEG_QUALITY, quality]
            if hasattr(cv2, "IMWRITE_JPEG_SAMPLING_FACTOR"):  # no chroma subsampling: colour is a cue
                params += [cv2.IMWRITE_JPEG_SAMPLING_FACTOR, cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444]
            ok_i, img = cv2.imencode(".jpg", image[..., ::-1], params)
            ok_m, msk = cv2.imencode(".png", mask * 255)
            if not (ok_i and ok_m):
                raise SystemExit(f"cannot encode {s.image}")
            key = f"{s.dataset}/{i}"
            arrays[key + "/image"], arrays[key + "/mask"] = img.ravel(), msk.ravel()
            index.append({"key": key, "dataset": s.dataset, "stem": s.image.stem})
    meta = {
        "format": "lnet-edge-packed-data",
        "version": 1,
        "images": f"JPEG quality {quality}, 4:4:4",
        "masks": "PNG 0/255",
    }
    arrays["index"] = np.frombuffer(json.dumps({**meta, "samples": index}).encode(), dtype=np.uint8)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(out)
    print(f"packed {len(index)} pairs from {len(folders)} folders into {out} ({out.stat().st_size / 2**20:.1f} MiB)")


def unpack(packed: Path, out: Path) -> None:
    with np.load(packed) as data:
        index = json.loads(data["index"].tobytes())
        if index.get("format") != "lnet-edge-packed-data":
            raise SystemExit(f"{packed} is not a file made by 'scripts/pack_data.py pack'")
        for s in index["samples"]:
            folder = out / s["dataset"]
            (folder / "images").mkdir(parents=True, exist_ok=True)
            (folder / "masks").mkdir(parents=True, exist_ok=True)
            (folder / "images" / f"{s['stem']}{s.get('suffix', '.jpg')}").write_bytes(
                data[s["key"] + "/image"].tobytes()
            )
            (folder / "masks" / f"{s['stem']}.png").write_bytes(data[s["key"] + "/mask"].tobytes())
    print(f"unpacked {len(index['samples'])} pairs into {out}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="verb", required=True)
    p = sub.add_parser("pack")
    p.add_argument("folders", nargs="+", type=Path)
    p.add_argument("-o", "--out", type=Path, required=True)
    p.add_argument("--quality", type=int, default=JPEG_QUALITY, help="JPEG quality (smaller files below 90)")
    p.add_argument("--skip-test", action="store_true", help="leave out each folder's fixed test part")
    u = sub.add_parser("unpack")
    u.add_argument("packed", type=Path)
    u.add_argument("-o", "--out", type=Path, required=True)
    args = ap.parse_args()
    if args.verb == "pack":
        pack(args.folders, args.out, args.quality, args.skip_test)
    else:
        unpack(args.packed, args.out)


if __name__ == "__main__":
    main()
