"""Images: RoPE-Axial and RoPE-Mixed on a ViT patch grid, trained at 6x6 and tested at 12x12.

Run: ``python examples/image_rope.py`` (CPU, a few seconds). One rotary attention layer learns to copy
each patch's right-hand neighbour, a task that only relative 2-D position can solve. It is trained on
a 6x6 grid and evaluated on 6x6 and on a 12x12 grid (resolution extrapolation with integer patch
indices, and with positions interpolated onto the 6x6 range). Printed: copy error and the attention
weight on the right neighbour.
"""

from __future__ import annotations

import sys
from pathlib import Path

import torch
from torch import Tensor, nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing

from drive.rope import RotaryAttention, RotaryEmbedding  # noqa: E402
from drive.rope.variants import patch_positions, vit_axial_frequencies, vit_mixed_frequencies  # noqa: E402

CONTENT, WIDTH, HEADS, TRAIN_SIDE = 16, 32, 2, 6


def copy_task(side: int, batch: int, generator: torch.Generator) -> tuple[Tensor, Tensor, Tensor]:
    """Random patch contents ``[B, N, C]``, their right neighbours, and the patches that have one ``[N]``."""
    content = torch.randn(batch, side * side, CONTENT, generator=generator)
    grid = content.view(batch, side, side, CONTENT)
    target = torch.roll(grid, shifts=-1, dims=2).reshape(batch, side * side, CONTENT)  # (B, N, C)
    has_right = torch.arange(side * side) % side < side - 1  # (N,)
    return content, target, has_right


class PatchCopier(nn.Module):
    def __init__(self, frequencies: Tensor, learnable: bool) -> None:
        super().__init__()
        self.rope = RotaryEmbedding(frequencies, learnable=learnable)
        self.embed, self.attention, self.head = (
            nn.Linear(CONTENT, WIDTH),
            RotaryAttention(WIDTH, HEADS),
            nn.Linear(WIDTH, CONTENT),
        )

    def forward(self, content: Tensor, side: int, reference: int | None = None) -> tuple[Tensor, Tensor]:
        size = None if reference is None else (reference, reference)
        angle = self.rope(patch_positions(side, side, num_prefix_tokens=0, reference_size=size))[
            None
        ]  # (1, N, H, S)
        hidden = self.embed(content)  # (B, N, WIDTH)
        out, weights = self.attention(hidden, hidden, angle, angle, return_weights=True)
        return self.head(out), weights  # (B, N, C), (B, H, N, N)


def train(model: PatchCopier, steps: int = 80) -> None:
    gen = torch.Generator().manual_seed(1)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-2)
    for _ in range(steps):
        content, target, has_right = copy_task(TRAIN_SIDE, 16, gen)
        prediction, _ = model(content, TRAIN_SIDE)
        loss = (prediction - target)[:, has_right].pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


@torch.no_grad()
def evaluate(model: PatchCopier, side: int, reference: int | None = None) -> tuple[float, float]:
    content, target, has_right = copy_task(side, 32, torch.Generator().manual_seed(2))
    prediction, weights = model(content, side, reference)
    rows = torch.arange(side * side)[has_right]
    on_right = weights.mean(1)[:, rows, rows + 1].mean().item()  # head-averaged weight on the neighbour
    return (prediction - target)[:, has_right].pow(2).mean().item(), on_right


def main() -> None:
    torch.set_num_threads(1)  # small tensors: extra threads only add overhead
    variants = {
        "RoPE-Axial (base 100, fixed)": (vit_axial_frequencies(WIDTH // HEADS, HEADS, 100.0), False),
        "RoPE-Mixed (base 10, learned)": (
            vit_mixed_frequencies(WIDTH // HEADS, HEADS, 10.0, generator=torch.Generator().manual_seed(0)),
            True,
        ),
    }
    print("Copy the right-hand patch; trained on 6x6. Columns: grid, copy MSE (inputs have variance 1),")
    print("mean attention weight on the right neighbour.")
    for name, (frequencies, learnable) in variants.items():
        torch.manual_seed(0)
        model = PatchCopier(frequencies, learnable)
        train(model)
        print(name)
        for label, side, reference in (("6x6", 6, None), ("12x12", 12, None), ("12x12 interp.", 12, 6)):
            mse, on_right = evaluate(model, side, reference)
            print(f"  {label:<14} mse {mse:7.4f}   weight on neighbour {on_right:6.3f}")


if __name__ == "__main__":
    main()
