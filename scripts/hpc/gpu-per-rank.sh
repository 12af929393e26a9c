#!/bin/bash
# Run a command with one GPU of the node: CUDA_VISIBLE_DEVICES from the launcher's local rank (srun, MPICH/Hydra,
# Cray PALS, Open MPI), modulo the node's GPUs (NGPUS_PER_NODE, default 4). For MPI evaluators, whose trial ranks
# would otherwise all train on GPU 0.
set -euo pipefail
local_rank=${SLURM_LOCALID:-${PMI_LOCAL_RANK:-${PALS_LOCAL_RANKID:-${OMPI_COMM_WORLD_LOCAL_RANK:-0}}}}
export CUDA_VISIBLE_DEVICES=$(( local_rank % ${NGPUS_PER_NODE:-4} ))
exec "$@"
