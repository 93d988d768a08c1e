"""``gluon.data``: datasets, samplers and the DataLoader (MXNet 1.x API; loading runs in the
calling process, whatever ``num_workers`` says)."""
from .dataloader import DataLoader, default_batchify_fn  # noqa: F401
from .dataset import ArrayDataset, Dataset, SimpleDataset  # noqa: F401
from .sampler import (BatchSampler, FilterSampler, RandomSampler, Sampler,  # noqa: F401
                      SequentialSampler)
