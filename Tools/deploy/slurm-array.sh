#!/usr/bin/env bash
# srtool batch as a Slurm job array: one array task per shard, no coordinator. Submit with
#   MODEL=vgg16.onnx IMAGES=/data/val OUT=/data/attributions sbatch Tools/deploy/slurm-array.sh
# then, when every task has finished, `srtool merge "$OUT" -o all.h5`. A task that was
# killed or preempted is resumed by submitting the same array again (`--requeue` does it
# for you): shards that are complete say so and exit, a shard that stopped mid-way
# continues where it stopped. `--shards` is the array's size; srtool takes its shard from
# SLURM_ARRAY_TASK_ID minus SLURM_ARRAY_TASK_MIN, so `--array=1-4` works as well as 0-3.
# Tests/SRToolTests/BatchCLITests.swift runs this script with Slurm's variables set.
#SBATCH --job-name=srtool-batch
#SBATCH --array=0-3
#SBATCH --cpus-per-task=2
#SBATCH --mem=4G
#SBATCH --time=04:00:00
#SBATCH --requeue
set -euo pipefail
: "${MODEL:?set MODEL to the model file}" "${IMAGES:?set IMAGES to the image folder}" "${OUT:?set OUT to the output folder}"
exec "${SRTOOL:-srtool}" batch "$MODEL" --images "$IMAGES" --out "$OUT" \
  --shards "${SLURM_ARRAY_TASK_COUNT:?run this script with sbatch --array}" \
  --threads "${SLURM_CPUS_PER_TASK:-2}" ${SRTOOL_BATCH_OPTIONS:-}
