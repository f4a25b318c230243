# ruff: noqa: UP031, UP032, N817, B007 - written as PyTorch users write (%-formatting, DDP alias)
"""A DistributedDataParallel script in the ordinary PyTorch style (mpirun -n 2 hybridgrad run)."""
import argparse
import os

import torch
import torch.distributed as dist
import torch.nn as nn
from torch.nn.parallel import DistributedDataParallel as DDP
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=4)
    args = parser.parse_args()
    dist.init_process_group(backend="gloo")
    rank, world = dist.get_rank(), dist.get_world_size()
    # torchrun's variables, as scripts written for it read them (set under mpirun too).
    if "RANK" in os.environ:
        assert int(os.environ["RANK"]) == rank and int(os.environ["WORLD_SIZE"]) == world
        print("rank %d local rank %s" % (rank, os.environ["LOCAL_RANK"]))
    torch.manual_seed(rank)  # different initial weights: DDP must broadcast rank 0's
    model = DDP(nn.Linear(3, 1))
    data = TensorDataset(torch.arange(48.0).reshape(16, 3) / 48, torch.ones(16, 1))
    sampler = DistributedSampler(data, num_replicas=world, rank=rank, shuffle=True, seed=0)
    loader = DataLoader(data, batch_size=args.batch_size, sampler=sampler)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn = nn.MSELoss()
    for epoch in range(3):
        sampler.set_epoch(epoch)
        for inputs, target in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), target)
            loss.backward()
            optimizer.step()
    weights = torch.cat([model.module.weight.detach().reshape(-1), model.module.bias.detach()])
    gathered = [torch.zeros(4) for _ in range(world)]
    dist.all_gather(gathered, weights)
    total = torch.tensor([float(rank)])
    dist.all_reduce(total, op=dist.ReduceOp.SUM)
    dist.barrier()
    print("rank %d of %d ranks-sum %d weights %s" % (
        rank, world, int(total.item()), " ".join("%.7f" % v for v in weights.tolist())))
    same = all(g.tolist() == weights.tolist() for g in gathered)
    print("rank %d replicas identical %s" % (rank, same))
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
