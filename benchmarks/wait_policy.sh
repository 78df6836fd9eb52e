#!/usr/bin/env bash
# OpenMP wait policies against a busy core: `irodori bench infer --contended` once per setting, in fresh
# processes (the OpenMP runtime reads these variables only when torch loads it), interleaved REPS times so
# that a shared machine's drift hits every setting alike. Prints one line per run; compare within a round.
#
#   benchmarks/wait_policy.sh                       # bundled model, 512 px, default precision, 2 rounds
#   REPS=3 ARGS="--precision fp32 --n 10" benchmarks/wait_policy.sh
#
# Settings: libgomp's own default (spin ~300k iterations, then sleep), PASSIVE (sleep at once; what
# irodori.threads.configure_openmp sets), and bounded spins in between. Threads fixed to the core count
# (IRODORI_THREADS) so that only the wait policy differs; the thread policy is `bench infer --contended`'s job.
set -euo pipefail
cd "$(dirname "$0")/.."
IRODORI=${IRODORI:-.venv/bin/irodori}
REPS=${REPS:-2}
ARGS=${ARGS:---n 10}
CORES=$(.venv/bin/python -c "from irodori.threads import affinity_cpus; print(len(affinity_cpus()))")
SETTINGS=("OMP_WAIT_POLICY=ACTIVE GOMP_SPINCOUNT=300000" "OMP_WAIT_POLICY=PASSIVE"
          "OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=3000" "OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=20000"
          "OMP_WAIT_POLICY=PASSIVE GOMP_SPINCOUNT=100000")
for rep in $(seq "$REPS"); do
  for setting in "${SETTINGS[@]}"; do
    line=$(env $setting IRODORI_THREADS="$CORES" $IRODORI bench infer --contended $ARGS | grep '^idle_ms=')
    printf 'round %s  %-45s %s  (load %s)\n' "$rep" "$setting" "$line" "$(cut -d' ' -f1 /proc/loadavg)"
  done
done
