#!/usr/bin/env bash
# Build the images' base from Debian packages, for machines that cannot pull python:3.11-slim
# (no Docker Hub, or an air-gapped registry): Debian 12 with its python3.11, as a virtualenv
# at /opt/python that is first on PATH, so that `python` and `pip` mean what they mean in the
# official python image.
#
#   deploy/docker/base-image.sh [TAG]          # default tag: shop-python:3.11-bookworm
#   docker build --build-arg BASE_IMAGE=shop-python:3.11-bookworm -f deploy/docker/Dockerfile.service .
#
# Needs root, mmdebstrap and a Docker engine (apt-get install mmdebstrap docker.io), and Debian's
# package mirror (or the mirror your apt uses: MIRROR=http://... overrides it).
# CA certificates added to this machine (/usr/local/share/ca-certificates/*.crt, e.g. a company's
# TLS-inspecting proxy) are added to the image too, so that `pip install` in a build trusts what
# this machine trusts. SHOP_BASE_EXTRA_CAS=0 leaves them out.
set -euo pipefail

tag=${1:-shop-python:3.11-bookworm}
suite=${SUITE:-bookworm}
mirror=${MIRROR:-}
docker=${DOCKER:-docker}

for tool in mmdebstrap "$docker"; do
    command -v "$tool" >/dev/null || { echo "base-image.sh: $tool is not installed (apt-get install mmdebstrap docker.io)" >&2; exit 2; }
done

hooks=()
if [[ ${SHOP_BASE_EXTRA_CAS:-1} == 1 ]] && compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    for crt in /usr/local/share/ca-certificates/*.crt; do
        hooks+=(--customize-hook="upload $crt /usr/local/share/ca-certificates/$(basename "$crt")")
    done
    hooks+=(--customize-hook='chroot "$1" update-ca-certificates --fresh >/dev/null 2>&1')
fi

# minbase: essential packages only (no apt tools beyond apt itself). Documentation, man pages
# and translations are left out, as in the slim images.
# shellcheck disable=SC2016  # the hooks' "$1" is mmdebstrap's, not this script's
mmdebstrap --quiet --variant=minbase --mode=root --format=tar \
    --include=python3.11,python3-venv,ca-certificates \
    --dpkgopt='path-exclude=/usr/share/doc/*' \
    --dpkgopt='path-include=/usr/share/doc/*/copyright' \
    --dpkgopt='path-exclude=/usr/share/man/*' \
    --dpkgopt='path-exclude=/usr/share/locale/*' \
    "${hooks[@]}" \
    --customize-hook='chroot "$1" python3.11 -m venv /opt/python' \
    --customize-hook='chroot "$1" /opt/python/bin/python -m pip --version' \
    --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*' \
    "$suite" - ${mirror:+"$mirror"} \
| "$docker" import \
    --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["python3"]' \
    --message "Debian $suite, python3.11 in a virtualenv at /opt/python (deploy/docker/base-image.sh)" \
    - "$tag" >/dev/null

"$docker" run --rm --network none "$tag" python -c 'import sys, ssl, venv; assert sys.version_info[:2] == (3, 11), sys.version' \
    || { echo "base-image.sh: $tag was built but its python does not run" >&2; exit 1; }
echo "$tag"
