#!/usr/bin/env bash
# `make run`: a demo server in ./run on loopback, ports 10000 above standard.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=build/outpost
DIR=run
BASE=10000
if [ ! -f "$DIR/outpost.conf" ]; then
    "$BIN" quickstart --dir "$DIR" --domain example.test --hostname localhost \
        --listen 127.0.0.1 --port-base "$BASE"
    echo
fi
cat <<MSG
outpost demo: config $DIR/outpost.conf, data $DIR/data (delete $DIR to start over)
  SMTP        127.0.0.1:$((BASE + 25))    swaks --server 127.0.0.1:$((BASE + 25)) --to postmaster@example.test
  submission  127.0.0.1:$((BASE + 587))   (STARTTLS)   submissions 127.0.0.1:$((BASE + 465)) (TLS)
              swaks --server 127.0.0.1:$((BASE + 587)) --tls --auth-user postmaster@example.test \
                    --auth-password PASSWORD --from postmaster@example.test --to postmaster@example.test
              (PASSWORD: printed once by quickstart above; \`outpost account passwd\` sets a new one)
  IMAP        127.0.0.1:$((BASE + 143))   (STARTTLS)   IMAPS       127.0.0.1:$((BASE + 993)) (TLS)
  POP3        127.0.0.1:$((BASE + 110))   (STLS)       POP3S       127.0.0.1:$((BASE + 995)) (TLS)
              any mail client: user postmaster@example.test, the PASSWORD above,
              accepting the server's self-signed certificate; or by hand:
              openssl s_client -connect 127.0.0.1:$((BASE + 993))
  HTTP        http://127.0.0.1:$((BASE + 80))/          HTTPS       https://127.0.0.1:$((BASE + 443))/
SMTP, submission, IMAP and POP3 work; HTTP answers with its protocol's refusal
until its module is built. The server logs every delivery below.
Ctrl-C stops the server.

MSG
exec "$BIN" serve -c "$DIR/outpost.conf"
