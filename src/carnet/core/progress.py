"""Progress bars for long operator commands (tqdm, on stderr: counts and rate)."""

from contextlib import contextmanager

from tqdm import tqdm


@contextmanager
def progress_bar(description: str, total: int | None = None, unit: str = "lignes"):
    with tqdm(
        total=total,
        desc=description,
        unit=f" {unit}",
        unit_scale=True,
        mininterval=0.5,
        dynamic_ncols=True,
    ) as bar:
        yield bar.update
