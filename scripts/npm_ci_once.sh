# Sourced by the setup scripts: npm_ci_once DIR [npm ci options].

# Runs `npm ci` in $1 unless node_modules already matches its package-lock.json.
npm_ci_once() {
    local dir=$1
    shift
    local stamp="$dir/node_modules/.ttcc-installed"
    local want
    want=$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)
    if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
        return
    fi
    echo "==> npm ci in $dir"
    (cd "$dir" && npm ci --no-audit --no-fund "$@")
    echo "$want" >"$stamp"
}
