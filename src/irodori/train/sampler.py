"""An endless, resumable per-rank sampler built on torch's DistributedSampler.

It yields ``(epoch, index)`` keys; datasets derive all randomness of a sample from
``(seed, epoch, index)``, so starting the sampler at a sample offset reproduces an
interrupted run exactly, whatever the number of DataLoader workers.
"""

from __future__ import annotations

from torch.utils.data import DistributedSampler, Sampler


class ResumableSampler(Sampler):
    def __init__(self, length: int, rank: int = 0, world_size: int = 1, seed: int = 0, start: int = 0):
        self.length, self.rank, self.world_size, self.seed, self.start = length, rank, world_size, seed, start
        self.per_rank = length // world_size
        if self.per_rank < 1:
            raise ValueError(f"dataset of {length} samples is too small for {world_size} ranks")

    def _epoch_indices(self, epoch: int) -> list[int]:
        s = DistributedSampler(range(self.length), num_replicas=self.world_size, rank=self.rank,
                               shuffle=True, seed=self.seed, drop_last=True)
        s.set_epoch(epoch)
        return list(s)

    def __iter__(self):
        epoch, offset = divmod(self.start, self.per_rank)
        while True:
            for i in self._epoch_indices(epoch)[offset:]:
                yield (epoch, i)
            epoch, offset = epoch + 1, 0
