# Sourced by the scripts that run on a lent GPU machine (gpu_session.sh, gpu_runs100.sh,
# gpu_claims.sh): that machine has torch but no network, so the MNIST files travel gzipped in .mnist/
# and the packages it lacks as wheels in .whl/ (both ignored through .git/info/exclude and carried).

# prepare_gpu_machine LOG: MNIST into $GANCORE_DATA (/tmp/gancore-data), then gancore, its plugins and
# the carried wheels installed into python3; pip's output goes to LOG, and its status is returned.
prepare_gpu_machine() {
  local log=$1 f p editable=()
  export GANCORE_DATA=/tmp/gancore-data
  mkdir -p "$GANCORE_DATA/MNIST/raw"
  for f in .mnist/*.gz; do gunzip -c "$f" >"$GANCORE_DATA/MNIST/raw/$(basename "$f" .gz)"; done
  for p in plugins/gan-*; do editable+=(-e "$p"); done
  python3 -m pip install -q --no-index --no-deps --no-build-isolation .whl/*.whl -e . "${editable[@]}" >"$log" 2>&1
}
