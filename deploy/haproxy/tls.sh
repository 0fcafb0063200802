#!/bin/sh
# The load balancer's certificate, made once on the stack's first start (compose's `tls` service)
# into the `tls` volume, which only it and the load balancer mount; never in git. A private CA
# signs a server certificate for localhost, 127.0.0.1 and `lb`; the CA's key is deleted once it
# has signed, so nothing can be signed with it again. Trust `ca.crt` (`make tls-ca` copies it to
# .run/compose-ca.crt), or replace shop.pem (certificate chain, then key) with a real one.
set -eu
dir=${1:-/tls}
if [ -s "$dir/shop.pem" ]; then
  echo "tls: keeping $dir/shop.pem"
  exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
  -subj "/CN=shop compose lab CA" -keyout ca.key -out ca.crt \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
  -keyout shop.key -out shop.csr 2>/dev/null
printf '%s\n' "subjectAltName=DNS:localhost,DNS:lb,IP:127.0.0.1" "basicConstraints=CA:FALSE" \
  "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" >shop.ext
openssl x509 -req -in shop.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 825 \
  -extfile shop.ext -out shop.crt 2>/dev/null
# HAProxy's `crt`: the certificate, then its key, in one file. Readable by the load
# balancer's user, whose id differs between its images; the volume is mounted nowhere else.
cat shop.crt shop.key >shop.pem
install -m 0644 ca.crt "$dir/ca.crt"
install -m 0644 shop.pem "$dir/shop.pem.new"
mv "$dir/shop.pem.new" "$dir/shop.pem"
echo "tls: made $dir/shop.pem for localhost, 127.0.0.1 and lb (CA: $dir/ca.crt)"
