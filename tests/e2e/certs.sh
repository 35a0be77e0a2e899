# certs.sh: make_test_certs DIR makes the certificates the TLS tests use,
# with the openssl command line (sourced by tests that need them):
#   ca.pem / ca.key           a test CA
#   server.pem / server.key   signed by it, for 127.0.0.1 and localhost
#   alice.pem / .key, bob.pem / .key    client certificates (CN = user name) signed by it
#   other-ca.pem, mallory.pem / .key    another CA, and a client certificate
#                                       with CN=alice that it signed
#   server2.pem / server2.key           a server certificate from the other CA
# Elliptic-curve keys (P-256): quick to make.
make_test_certs() {
    local d=$1 n
    mkdir -p "$d" || return 1
    (
        cd "$d" || exit 1
        set -e
        key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; chmod 600 "$1"; }
        ca() {
            key "$1.key"
            openssl req -x509 -new -key "$1.key" -out "$1.pem" -days 3 -subj "/CN=$2" 2>/dev/null
        }
        # sign NAME CA CN [EXTFILE]
        sign() {
            key "$1.key"
            openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$3" 2>/dev/null
            openssl x509 -req -in "$1.csr" -CA "$2.pem" -CAkey "$2.key" -CAcreateserial \
                -out "$1.pem" -days 3 ${4:+-extfile "$4"} 2>/dev/null
            rm -f "$1.csr"
        }
        ca ca "Dormouse test CA"
        ca other-ca "Some other CA"
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >server.ext
        sign server ca 127.0.0.1 server.ext
        for n in alice bob; do
            sign "$n" ca "$n"
        done
        sign mallory other-ca alice
        sign server2 other-ca 127.0.0.1 server.ext
    )
}
