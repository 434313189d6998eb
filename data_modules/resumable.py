"""A DataLoader that Lightning can checkpoint in the middle of an epoch.

Lightning saves and restores any training loader that has `state_dict`/`load_state_dict`. The
position saved is the number of batches the training loop has *finished* this epoch, which the
pipeline reports through `mark(epoch, done)` (the loader itself runs ahead: prefetching,
workers). On resume, the first iteration skips that many batches. Batch order depends only on
the epoch (seeded shuffles, fixed streams), so the skipped batches are exactly the ones already
trained on.
"""

from __future__ import annotations

import itertools

from torch.utils.data import DataLoader


class ResumableLoader(DataLoader):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.epoch, self.done, self._skip = 0, 0, 0

    def set_epoch(self, epoch: int) -> None:
        """Forward the epoch to a sampler that reshuffles by epoch (Lightning only looks at `.sampler`)."""
        self.epoch = epoch
        for sampler in (self.batch_sampler, self.sampler):
            if callable(getattr(sampler, "set_epoch", None)):
                sampler.set_epoch(epoch)

    def mark(self, epoch: int, done: int) -> None:
        self.epoch, self.done = epoch, done

    def state_dict(self) -> dict:
        return {"epoch": self.epoch, "done": self.done}

    def load_state_dict(self, state: dict) -> None:
        epoch, done = int(state.get("epoch", 0)), int(state.get("done", 0))
        if done >= len(self):
            # Saved after the epoch's last batch: Lightning goes on with the next epoch and, resuming
            # there, does not call on_train_epoch_start, so the loader moves on by itself.
            epoch, done = epoch + 1, 0
        self.set_epoch(epoch)
        self._skip = self.done = done

    def __iter__(self):
        skip, self._skip = self._skip, 0
        self.done = skip
        self.set_epoch(self.epoch)
        return self._run(super().__iter__(), skip)

    def _run(self, it, skip: int):
        yield from itertools.islice(it, skip, None)
        # A finished pass moves to the next epoch, as the shuffling samplers do themselves.
        self.epoch += 1
