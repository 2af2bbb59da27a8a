"""Print the table in docs/model.md: parameters and GMACs at 256x256 for every variant and preset."""

from lnet_edge.config import PRESETS, ModelConfig, Variant
from lnet_edge.model.lnet import LNet, count_macs, count_parameters

print("| variant | " + " | ".join(PRESETS) + " |")
print("|---" * (len(PRESETS) + 1) + "|")
for v in Variant:
    cells = []
    for p in PRESETS:
        m = LNet(ModelConfig(variant=v, preset=p))
        cells.append(f"{count_parameters(m) / 1e6:.2f} M / {count_macs(m) / 1e9:.2f}")
    print(f"| {v.value} | " + " | ".join(cells) + " |")
