# Shared set-up for scripts/serve and scripts/test: a Python virtualenv with
# the pinned dependencies, and Debian packages installed when missing.
# Sourced, not run.

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${SLIPWAY_VENV:-$ROOT/.venv}"

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# apt_install PKG...: install Debian packages that are missing (needs root or sudo).
apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "Please install: ${missing[*]}" >&2; exit 1; }
        sudo="sudo"
    fi
    say "Installing Debian packages: ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

python_ok() {
    command -v python3 >/dev/null && python3 -c 'import sys, venv, ensurepip; sys.exit(sys.version_info < (3, 11))' 2>/dev/null
}

# ensure_venv EXTRA: create the virtualenv and install Slipway (with [EXTRA]) from the pins.
ensure_venv() {
    local extra="${1:-}"
    command -v git >/dev/null || apt_install git
    python_ok || apt_install python3 python3-venv python3-pip
    python_ok || { echo "Slipway needs Python 3.11 or newer." >&2; exit 1; }
    if [ ! -x "$VENV/bin/python" ]; then
        say "Creating $VENV"
        python3 -m venv "$VENV"
    fi
    local stamp="$VENV/.slipway-installed${extra:+-$extra}"
    if [ ! -f "$stamp" ] || [ "$ROOT/pyproject.toml" -nt "$stamp" ] || [ "$ROOT/constraints.txt" -nt "$stamp" ]; then
        say "Installing Slipway${extra:+ [$extra]} into $VENV"
        "$VENV/bin/pip" install -q --disable-pip-version-check -c "$ROOT/constraints.txt" \
            -e "$ROOT${extra:+[$extra]}"
        touch "$stamp"
    fi
}

# What the platform needs on the host: git (repositories and `git http-backend`),
# bubblewrap (the build and dyno sandbox), venv for the Python buildpack and patchelf
# (a Python with its own libpython, copied into a slug, finds it there), Node.js and
# npm for the Node.js buildpack (npm fetches the slugs' Node.js and its semver resolves
# engines.node), Ruby and Bundler for heroku/ruby, a JDK and Maven for heroku/java,
# HAProxy (2.6, the router's data plane), PostgreSQL (initdb/pg_ctl for the embedded cluster, psql, pg_dump/pg_restore) and
# redis-server/redis-cli for add-ons; iproute2 and nftables give each dyno its own
# network namespace and its rules, e2fsprogs (mkfs.ext4) the size-capped disk of each dyno
# and build, rsync keeping a build's cache (unchanged files as hard links);
# and the marketplace's servers: MariaDB
# (mariadb-install-db, mariadbd, mariadb-dump), RabbitMQ, memcached with SASL (saslpasswd2
# from sasl2-bin, the PLAIN mechanism from libsasl2-modules); installing mariadb-server or
# rabbitmq-server starts the machine's own service on Debian, and Slipway's embedded ones run
# on ports and node names of their own. The gems and Maven plugins Debian packages are what
# builds use when rubygems.org and Maven Central cannot be reached (as in the tests: the
# Sinatra and Rails samples' locks match ruby-sinatra, puma and ruby-rails, and the Maven
# samples build offline from /usr/share/maven-repo through maven-debian-helper).
ensure_platform_packages() {
    local pkgs=(git bubblewrap python3-venv patchelf postgresql postgresql-client redis-server redis-tools
        iproute2 nftables e2fsprogs rsync haproxy
        pebble strace libnss3-tools
        mariadb-server mariadb-client rabbitmq-server memcached sasl2-bin libsasl2-modules
        ruby bundler ruby-sinatra puma ruby-rails
        default-jdk-headless maven maven-debian-helper libmaven-jar-plugin-java
        libmaven-compiler-plugin-java libmaven-resources-plugin-java
        libmaven-install-plugin-java libmaven-clean-plugin-java libsurefire-java
        chromium)
    command -v node >/dev/null || pkgs+=(nodejs)
    command -v npm >/dev/null || pkgs+=(npm)
    apt_install "${pkgs[@]}"
}

# What bench/ needs besides the platform: wrk (load) and nginx (the baseline proxy).
ensure_bench_packages() {
    apt_install wrk nginx-light
}
