#!/usr/bin/env bash
# Makes throw-away certificates for the security tests (nothing is checked in, nothing expires
# while a test runs): a CA, a server certificate for 127.0.0.1 and localhost signed by it, a
# client certificate for mutual TLS, and a second CA nobody trusts.
#
#   scripts/test-certs.sh DIR
#
# DIR gets ca.pem, server.pem + server.key (PKCS#8, unencrypted), server-keystore.pem (key and
# chain in one file, Kafka's PEM keystore), client.pem + client.key, client-encrypted.key (the
# same key as encrypted PKCS#8, PBES2 AES-256-CBC, password "client-key-pass"), other-ca.pem,
# and other-server-keystore.pem (a server certificate from the untrusted CA).
set -euo pipefail
dir="${1:?usage: test-certs.sh DIR}"
mkdir -p "$dir"
cd "$dir"
days=2
ca() { # name subject
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days $days \
        -subj "/CN=$2" -keyout "$1.key" -out "$1.pem" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}
leaf() { # name ca subject extensions
    openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$3" \
        -keyout "$1.key.tmp" -out "$1.csr" 2>/dev/null
    printf '%s\n' "$4" > "$1.ext"
    openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial -days $days \
        -extfile "$1.ext" -out "$1.pem" 2>/dev/null
    openssl pkcs8 -topk8 -nocrypt -in "$1.key.tmp" -out "$1.key"
    rm -f "$1.key.tmp" "$1.csr" "$1.ext"
}
ca ca "odradek test CA"
ca other-ca "untrusted test CA"
leaf server ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
leaf client ca client "extendedKeyUsage=clientAuth"
leaf other-server other-ca localhost "subjectAltName=IP:127.0.0.1,DNS:localhost
extendedKeyUsage=serverAuth"
openssl pkcs8 -topk8 -v2 aes-256-cbc -passout pass:client-key-pass -in client.key \
    -out client-encrypted.key
cat server.key server.pem ca.pem > server-keystore.pem
cat other-server.key other-server.pem other-ca.pem > other-server-keystore.pem
