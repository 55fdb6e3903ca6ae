#!/usr/bin/env bash
# Provision and run two real Samba AD DC forests on loopback aliases for altgate's
# integration tests.
#
#   scripts/ad-forests.sh up              provision (if needed), start (if needed), wait ready
#   scripts/ad-forests.sh down            stop both forests
#   scripts/ad-forests.sh stop  NAME      stop one forest (NAME = contoso | fabrikam)
#   scripts/ad-forests.sh start NAME      start one forest and wait until it is ready
#   scripts/ad-forests.sh status          print running/stopped per forest
#   scripts/ad-forests.sh lockout-policy NAME THRESHOLD [MINUTES]
#                                          set the domain's account lockout policy (threshold,
#                                          observation window = lockout duration = MINUTES, 30 by
#                                          default); THRESHOLD 0 also unlocks lock-ad and lock-adc
#   scripts/ad-forests.sh reset           stop both and delete the state directory
#   scripts/ad-forests.sh seed-bulk N     benchmark forest (northwind.com on 127.0.0.4, never
#                                         started by up): provision, seed N users, start
#   scripts/ad-forests.sh bench-down      stop the benchmark forest and delete it
#
# State lives in ${ALTGATE_AD_DIR:-/var/tmp/altgate-ad}/<forest>; $STATE/forests.json describes
# the forests for the Rust test harness. Every TLS check verifies the forest's own CA.
# Each forest also holds the accounts `altgate audit`'s integration test expects (OU=Audit,
# versioned) and the Exchange attributes mailNickname and targetAddress in its schema; `up`
# adds them to forests provisioned before they existed.
# Kerberos: contoso's DC is also its KDC (127.0.0.2:88). contoso holds the Kerberos test accounts
# (OU=Kerberos: service accounts with SPNs HTTP/sts.contoso.com and HTTP/other.contoso.com,
# computers WS01$ and WS02$, krb-* users) and $STATE/contoso/http.keytab (HTTP/sts.contoso.com,
# AES); `up` adds them to forests provisioned before they existed, writes $STATE/krb5.conf (both
# realms; use it with KRB5_CONFIG), checks kinit/kvno against the keytab, and makes
# sts.contoso.com and other.contoso.com resolve to 127.0.0.1 (one line appended to /etc/hosts).
# `status` exits 0 only if both forests are running. Commands are serialised by a lock file.
# Optional: ALTGATE_AD_READY_TIMEOUT (default 60 s), ALTGATE_AD_STOP_TIMEOUT (default 10 s).
# Needs root (loopback aliases, Samba, /etc/hosts) and: samba samba-ad-dc ldb-tools ldap-utils
# openssl iproute2 krb5-user.
set -euo pipefail

STATE="${ALTGATE_AD_DIR:-/var/tmp/altgate-ad}"
READY_TIMEOUT="${ALTGATE_AD_READY_TIMEOUT:-60}" # seconds, for start/up
STOP_TIMEOUT="${ALTGATE_AD_STOP_TIMEOUT:-10}"   # seconds, for stop/down

FORESTS=(contoso fabrikam)
USER_PASSWORD='Altgate-Test-Pw1!'
SVC_PASSWORD='Svc-Altgate-Pw1!'
# Domain Administrator password: provisioning, and the integration tests that reset, disable
# and delete their own throwaway users (never the provisioned ones, never altgate itself).
ADMIN_PASSWORD='Admin-Altgate-Pw1!'

log() { printf 'ad-forests: %s\n' "$*" >&2; }
die() { printf 'ad-forests: ERROR: %s\n' "$*" >&2; exit 1; }

# forest_vars NAME: sets REALM NETBIOS IP DNSDOMAIN BASE_DN UPN_SUFFIX DIR
forest_vars() {
    case "$1" in
    contoso)
        REALM=CONTOSO.COM NETBIOS=CONTOSO IP=127.0.0.2 UPN_SUFFIX=corp.contoso.local ;;
    fabrikam)
        REALM=FABRIKAM.COM NETBIOS=FABRIKAM IP=127.0.0.3 UPN_SUFFIX=fabrikam.local ;;
    northwind) # the benchmark forest (seed-bulk); never started by `up`
        REALM=NORTHWIND.COM NETBIOS=NORTHWIND IP=127.0.0.4 UPN_SUFFIX=corp.northwind.local ;;
    *) die "unknown forest '$1' (expected one of: ${FORESTS[*]})" ;;
    esac
    DNSDOMAIN="${REALM,,}"
    BASE_DN="DC=${DNSDOMAIN//./,DC=}"
    DIR="$STATE/$1"
}

now_ms() { date +%s%3N; }

# ---------------------------------------------------------------------------------------------
# Loopback alias
ensure_ip() {
    local ip="$1" addrs
    addrs="$(ip -4 -o addr show dev lo)"
    if ! grep -qw "inet $ip/32" <<<"$addrs"; then
        log "adding $ip/32 to lo"
        ip addr add "$ip/32" dev lo
    fi
}

# ---------------------------------------------------------------------------------------------
# Process state. The master's pid is in $DIR/samba.pid (written by Samba). After a reboot the
# file may be stale and the pid reused, so also require that the process is a samba binary
# whose process group is its own pid (samba -D leads its own process group).
# proc_state PID: sets ST and PGID from /proc/PID/stat (no procps dependency, no forks)
proc_state() {
    local line fields
    { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
    # the command name (field 2) may contain spaces and parentheses: split after the last ')'
    read -r -a fields <<<"${line##*) }"
    ST="${fields[0]}" PGID="${fields[2]}"
}

master_pid() {
    local pidfile="$DIR/samba.pid" pid exe ST PGID
    [[ -r "$pidfile" ]] || return 1
    pid="$(tr -dc '0-9' <"$pidfile")"
    [[ -n "$pid" ]] || return 1
    proc_state "$pid" || return 1
    [[ "$ST" != Z && "$PGID" == "$pid" ]] || return 1
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null || true)"
    [[ "${exe%% (deleted)}" == */samba ]] || return 1
    printf '%s\n' "$pid"
}

# pids of every live process in process group $1 (Samba's master and its workers). Zombies
# do not count: they have exited and only wait to be reaped (by init, which can be slow).
group_pids() {
    local f ST PGID
    for f in /proc/[0-9]*; do
        proc_state "${f#/proc/}" || continue
        [[ "$PGID" == "$1" && "$ST" != Z ]] && printf '%s\n' "${f#/proc/}"
    done
    return 0
}

# orphaned_group: if the master in $DIR/samba.pid is dead but live samba processes remain in its
# process group, print that process group id.
orphaned_group() {
    local pid p exe found=0
    [[ -r "$DIR/samba.pid" ]] || return 1
    pid="$(tr -dc '0-9' <"$DIR/samba.pid")"
    [[ -n "$pid" ]] || return 1
    for p in $(group_pids "$pid"); do
        exe="$(readlink "/proc/$p/exe" 2>/dev/null || true)"
        [[ "${exe%% (deleted)}" == */samba ]] || return 1   # not ours: leave it alone
        found=1
    done
    [[ $found -eq 1 ]] || return 1
    printf '%s\n' "$pid"
}

# any TCP or UDP socket listening on $IP?
ports_open() {
    [[ -n "$(ss -H -l -n -t -u src "$IP" 2>/dev/null)" ]]
}

is_running() { master_pid >/dev/null; }

# ---------------------------------------------------------------------------------------------
# LDAP probes (verifying TLS against the forest CA)
ldap_env() {
    env LDAPTLS_CACERT="$DIR/ca.pem" LDAPTLS_REQCERT=demand LDAPRC=/dev/null "$@"
}

probe_ready() {
    local out
    # 1. global catalog over LDAPS, bound as the service account, must find the service user
    out="$(ldap_env timeout 5 ldapsearch -LLL -o nettimeout=3 -H "ldaps://$IP:3269" -x \
        -D "svc-altgate@$DNSDOMAIN" -w "$SVC_PASSWORD" -b "$BASE_DN" \
        '(sAMAccountName=svc-altgate)' dn 2>/dev/null)" || return 1
    [[ "$out" == *"dn: CN="* ]] || return 1
    # 2. the domain LDAPS port must answer too
    out="$(ldap_env timeout 5 ldapsearch -LLL -o nettimeout=3 -H "ldaps://$IP:636" -x \
        -D "svc-altgate@$DNSDOMAIN" -w "$SVC_PASSWORD" -b '' -s base \
        '(objectClass=*)' defaultNamingContext 2>/dev/null)" || return 1
    [[ "$out" == *"defaultNamingContext: $BASE_DN"* ]] || return 1
}

wait_ready() {
    local name="$1" t0 now
    t0=$(now_ms)
    while :; do
        if probe_ready; then return 0; fi
        now=$(now_ms)
        # samba -D returns once the daemon has forked; give it 3 s to write its pid file
        if (( now - t0 > 3000 )) && ! is_running; then
            fail_with_log "$name: samba is not running"
        fi
        if (( now - t0 >= READY_TIMEOUT * 1000 )); then
            fail_with_log "$name: not ready after ${READY_TIMEOUT}s (ldaps://$IP:3269)"
        fi
        sleep 0.2
    done
}

fail_with_log() {
    printf 'ad-forests: ERROR: %s\n' "$1" >&2
    if [[ -f "$DIR/samba.log" ]]; then
        printf -- '--- tail of %s ---\n' "$DIR/samba.log" >&2
        tail -n 40 "$DIR/samba.log" >&2
        printf -- '--- end ---\n' >&2
    fi
    exit 1
}

# ---------------------------------------------------------------------------------------------
# Provisioning
b64() { base64 -w0; }
# unicodePwd value: base64 of UTF-16LE of the password wrapped in double quotes
pwd_b64() { printf '"%s"' "$1" | iconv -f UTF-8 -t UTF-16LE | b64; }

make_tls() {
    local tls="$DIR"
    umask 077
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
        openssl pkcs8 -topk8 -nocrypt -out "$tls/ca.key"
    openssl req -x509 -new -key "$tls/ca.key" -sha256 -days 3650 \
        -subj "/O=altgate test/CN=altgate test CA for $DNSDOMAIN" \
        -set_serial "0x$(openssl rand -hex 15)" \
        -addext 'basicConstraints=critical,CA:TRUE' \
        -addext 'keyUsage=critical,keyCertSign,cRLSign' \
        -addext 'subjectKeyIdentifier=hash' \
        -out "$tls/ca.pem"
    openssl ecparam -name prime256v1 -genkey -noout 2>/dev/null |
        openssl pkcs8 -topk8 -nocrypt -out "$tls/dc.key"
    openssl req -new -key "$tls/dc.key" -subj "/CN=dc1.$DNSDOMAIN" -out "$tls/dc.csr"
    cat >"$tls/dc.ext" <<EOF
basicConstraints=critical,CA:FALSE
keyUsage=critical,digitalSignature
extendedKeyUsage=serverAuth
subjectAltName=DNS:dc1.$DNSDOMAIN,IP:$IP
subjectKeyIdentifier=hash
authorityKeyIdentifier=keyid
EOF
    openssl x509 -req -in "$tls/dc.csr" -CA "$tls/ca.pem" -CAkey "$tls/ca.key" \
        -set_serial "0x$(openssl rand -hex 15)" -days 3650 -sha256 \
        -extfile "$tls/dc.ext" -out "$tls/dc.pem" 2>/dev/null
    rm -f "$tls/dc.csr" "$tls/dc.ext"
    chmod 600 "$tls/ca.key" "$tls/dc.key"
    chmod 644 "$tls/ca.pem" "$tls/dc.pem"
    umask 022
    openssl verify -CAfile "$tls/ca.pem" "$tls/dc.pem" >/dev/null
}

# user_ldif SAM GIVEN SN UPN MAIL UAC PASSWORD [EXTRA-LDIF-LINES]
# MAIL may be empty (no mail). Values that are not plain ASCII-safe are base64-encoded.
# The user goes to CN=Users unless USER_CONTAINER names another container (e.g. OU=Kerberos).
user_ldif() {
    local sam="$1" given="$2" sn="$3" upn="$4" mail="$5" uac="$6" pw="$7" extra="${8:-}"
    local cn="$given $sn"
    printf 'dn: CN=%s,%s,%s\n' "$cn" "${USER_CONTAINER:-CN=Users}" "$BASE_DN"
    printf 'objectClass: user\n'
    printf 'sAMAccountName: %s\n' "$sam"
    printf 'userPrincipalName: %s\n' "$upn"
    printf 'givenName: %s\n' "$given"
    printf 'sn: %s\n' "$sn"
    printf 'displayName: %s\n' "$cn"
    if [[ -n "$mail" ]]; then
        printf 'mail:: %s\n' "$(printf '%s' "$mail" | b64)"
    fi
    printf 'userAccountControl: %s\n' "$uac"
    printf 'unicodePwd:: %s\n' "$(pwd_b64 "$pw")"
    [[ -z "$extra" ]] || printf '%s\n' "$extra"
    printf '\n'
}

users_ldif() {
    local P="$USER_PASSWORD" S="$UPN_SUFFIX"
    case "$1" in
    contoso)
        user_ldif jdoe     John   Doe      "jdoe@$S"           'jdoe@contoso.com'          512 "$P"
        user_ldif dupa     Dup    A        "dupa@$S"           'shared@contoso.com'        512 "$P"
        user_ldif dupb     Dup    B        "dupb@$S"           'shared@contoso.com'        512 "$P"
        user_ldif crossc   Cross  Contoso  "crossc@$S"         'cross@example.com'         512 "$P"
        user_ldif alice    Alice  Anderson 'alice@contoso.com' ''                          512 "$P"
        user_ldif mallory  Mallory Martin  "mallory@$S"        'alice@contoso.com'         512 "$P"
        user_ldif nomail   No     Mail     "nomail@$S"         ''                          512 "$P"
        user_ldif disabled Disabled User   "disabled@$S"       'disabled@contoso.com'      514 "$P"
        user_ldif obrien   Olivia OBrien   "obrien@$S"         'o*brien(test)@contoso.com' 512 "$P"
        user_ldif bslash   Back   Slash    "bslash@$S"         'back\slash@contoso.com'    512 "$P"
        user_ldif mixed    Mixed  Case     "mixed@$S"          'Mixed.Case@Contoso.COM'    512 "$P"
        user_ldif consist  Consistency Guid "consist@$S"       'consist@contoso.com'       512 "$P" \
            'mS-DS-ConsistencyGuid:: AAECAwQFBgcICQoLDA0ODw=='
        user_ldif svc-altgate Altgate Service 'svc-altgate@contoso.com' ''              512 "$SVC_PASSWORD"
        ;;
    fabrikam)
        user_ldif fuser    Fabrikam User    "fuser@$S"            'fuser@fabrikam.com'     512 "$P"
        user_ldif crossf   Cross  Fabrikam  "crossf@$S"           'cross@example.com'      512 "$P"
        user_ldif jdoe     John   Doe       "jdoe@$S"             'john.doe@fabrikam.com'  512 "$P"
        user_ldif upnonly  UPN    Only      'upnonly@fabrikam.com' ''                      512 "$P"
        user_ldif svc-altgate Altgate Service 'svc-altgate@fabrikam.com' ''                512 "$SVC_PASSWORD"
        ;;
    northwind)
        user_ldif svc-altgate Altgate Service 'svc-altgate@northwind.com' ''               512 "$SVC_PASSWORD"
        ;;
    esac
}

provision() {
    local name="$1" t0
    t0=$(now_ms)
    if [[ -e "$DIR" ]]; then
        log "$name: removing incomplete state in $DIR"
        rm -rf -- "$DIR"
    fi
    mkdir -p "$DIR"
    log "$name: provisioning $REALM ($NETBIOS) on $IP in $DIR"
    make_tls
    # --configfile=/dev/null: do not inherit settings or shares from the host's /etc/samba/smb.conf
    if ! samba-tool domain provision --configfile=/dev/null --targetdir="$DIR" \
        --realm="$REALM" --domain="$NETBIOS" --server-role=dc --dns-backend=NONE \
        --backend-store="${BACKEND_STORE:-tdb}" \
        --adminpass="$ADMIN_PASSWORD" \
        --host-name=dc1 --host-ip="$IP" \
        --option="interfaces = $IP" \
        --option="bind interfaces only = yes" \
        --option="server services = ldap, kdc" \
        --option="pid directory = $DIR" \
        --option="ncalrpc dir = $DIR/ncalrpc" \
        --option="winbindd socket directory = $DIR/winbindd" \
        --option="ntp signd socket directory = $DIR/ntp_signd" \
        --option="log file = $DIR/samba.log" \
        --option="max log size = 10000" \
        --option="log level = 1" \
        --option="tls enabled = yes" \
        --option="tls keyfile = $DIR/dc.key" \
        --option="tls certfile = $DIR/dc.pem" \
        --option="tls cafile = $DIR/ca.pem" \
        >"$DIR/provision.log" 2>&1; then
        tail -n 40 "$DIR/provision.log" >&2
        die "$name: samba-tool domain provision failed (see $DIR/provision.log)"
    fi

    local conf="$DIR/etc/smb.conf" sam="$DIR/private/sam.ldb"
    samba-tool domain passwordsettings set -s "$conf" -H "$sam" -q \
        --complexity=off --history-length=0 --min-pwd-age=0 --max-pwd-age=0 \
        --account-lockout-threshold=0 >>"$DIR/provision.log" 2>&1 ||
        die "$name: setting password policy failed (see $DIR/provision.log)"

    # Alternative UPN suffix, as an AD admin would register it (Domains and Trusts).
    printf 'dn: CN=Partitions,CN=Configuration,%s\nchangetype: modify\nadd: uPNSuffixes\nuPNSuffixes: %s\n' \
        "$BASE_DN" "$UPN_SUFFIX" >"$DIR/upn-suffix.ldif"
    ldbmodify --configfile="$conf" -H "$sam" "$DIR/upn-suffix.ldif" >>"$DIR/provision.log" 2>&1 ||
        die "$name: adding uPNSuffixes failed (see $DIR/provision.log)"

    users_ldif "$name" >"$DIR/users.ldif"
    chmod 600 "$DIR/users.ldif"
    ldbadd --configfile="$conf" -H "$sam" "$DIR/users.ldif" >>"$DIR/provision.log" 2>&1 ||
        die "$name: seeding users failed (see $DIR/provision.log)"
    ensure_audit_fixtures "$name"

    seed_lockout_fixtures "$name"
    seed_kerberos_fixtures "$name"
    touch "$DIR/.provisioned"
    log "$name: provisioned in $(( $(now_ms) - t0 )) ms"
}

# ---------------------------------------------------------------------------------------------
# Extranet lockout fixtures (contoso): dedicated users, so lockout tests never disturb others.
# AD only counts bad passwords (badPwdCount) when a lockout threshold applies, and the domain's
# is 0. Fine-grained password policies (PSOs) give the test users one: the lock-* users whose
# badPwdCount the tests read get a threshold that never locks in practice (999); lock-ad and
# lock-adc get a real one (10 bad passwords, 30 minutes), so AD's own lockout is exercised
# without a domain-wide policy that could lock other tests' users. lock-atk* are the benchmark's
# spray targets (no PSO). Bump LOCKOUT_FIXTURES to re-seed a provisioned forest (each step is
# skipped if already done).
LOCKOUT_FIXTURES=4
LOCKOUT_COUNTED=(lock-spray lock-alias lock-logonly lock-cli lock-farm lock-store lock-xff lock-prom lock-lb lock-ha)
LOCKOUT_AD_LOCKS=(lock-ad lock-adc)
LOCKOUT_PSO=altgate-lockout-counted
LOCKOUT_AD_PSO=altgate-lockout-ad

lockout_users() {
    local n
    printf '%s\n' "${LOCKOUT_COUNTED[@]}" "${LOCKOUT_AD_LOCKS[@]}"
    for n in $(seq -w 1 16); do printf 'lock-atk%s\n' "$n"; done
}

# seed_lockout_fixtures NAME: idempotent; a marker file makes the common case a stat.
seed_lockout_fixtures() {
    local name="$1" conf="$DIR/etc/smb.conf" sam="$DIR/private/sam.ldb" marker t0 existing u
    [[ "$name" == contoso ]] || return 0
    marker="$DIR/.lockout-fixtures-$LOCKOUT_FIXTURES"
    [[ -f "$marker" ]] && return 0
    t0=$(now_ms)
    existing="$(ldbsearch --configfile="$conf" -H "$sam" -b "$BASE_DN" '(sAMAccountName=lock-*)' \
        sAMAccountName 2>/dev/null | sed -n 's/^sAMAccountName: //p')"
    for u in $(lockout_users); do
        grep -qx -- "$u" <<<"$existing" ||
            user_ldif "$u" Lockout "${u#lock-}" "$u@$UPN_SUFFIX" "$u@$DNSDOMAIN" 512 "$USER_PASSWORD"
    done >"$DIR/lockout-users.ldif"
    chmod 600 "$DIR/lockout-users.ldif"
    if [[ -s "$DIR/lockout-users.ldif" ]]; then
        ldbadd --configfile="$conf" -H "$sam" "$DIR/lockout-users.ldif" >>"$DIR/provision.log" 2>&1 ||
            die "$name: seeding lockout users failed (see $DIR/provision.log)"
    fi
    # samba-tool takes its options after the subcommand
    st() { samba-tool "$@" -s "$conf" -H "$sam"; }
    # pso GROUP THRESHOLD MEMBERS...: a group, its members, and a PSO of that name applied to it
    pso() {
        local group="$1" threshold="$2"; shift 2
        st group show "$group" >/dev/null 2>&1 ||
            st group add "$group" >>"$DIR/provision.log" 2>&1 ||
            die "$name: creating group $group failed (see $DIR/provision.log)"
        st group addmembers "$group" "$(IFS=,; echo "$*")" >>"$DIR/provision.log" 2>&1 || true
        if ! st domain passwordsettings pso show "$group" >/dev/null 2>&1; then
            st domain passwordsettings pso create "$group" 1 \
                --complexity=off --history-length=0 --min-pwd-age=0 --max-pwd-age=0 --min-pwd-length=0 \
                --account-lockout-threshold="$threshold" --account-lockout-duration=30 \
                --reset-account-lockout-after=30 >>"$DIR/provision.log" 2>&1 ||
                die "$name: creating PSO $group failed (see $DIR/provision.log)"
            st domain passwordsettings pso apply "$group" "$group" >>"$DIR/provision.log" 2>&1 ||
                die "$name: applying PSO $group failed (see $DIR/provision.log)"
        fi
    }
    pso "$LOCKOUT_PSO" 999 "${LOCKOUT_COUNTED[@]}"
    pso "$LOCKOUT_AD_PSO" 10 "${LOCKOUT_AD_LOCKS[@]}"
    touch "$marker"
    log "$name: lockout fixtures seeded in $(( $(now_ms) - t0 )) ms"
}

# lockout_policy NAME THRESHOLD [MINUTES]: the domain's own lockout policy.
lockout_policy() {
    local name="$1" threshold="$2" minutes="${3:-30}" conf sam u
    forest_vars "$name"
    [[ -f "$DIR/.provisioned" ]] || die "$name: not provisioned (run: $0 up)"
    [[ "$threshold" =~ ^[0-9]+$ && "$minutes" =~ ^[0-9]+$ ]] || die "lockout-policy: THRESHOLD and MINUTES are integers"
    conf="$DIR/etc/smb.conf" sam="$DIR/private/sam.ldb"
    samba-tool domain passwordsettings set -s "$conf" -H "$sam" -q \
        --account-lockout-threshold="$threshold" --account-lockout-duration="$minutes" \
        --reset-account-lockout-after="$minutes" >>"$DIR/provision.log" 2>&1 ||
        die "$name: setting the lockout policy failed (see $DIR/provision.log)"
    if [[ "$threshold" == 0 && "$name" == contoso ]]; then
        for u in "${LOCKOUT_AD_LOCKS[@]}"; do
            samba-tool user unlock "$u" -s "$conf" -H "$sam" >>"$DIR/provision.log" 2>&1 || true
        done
    fi
    log "$name: lockoutThreshold $threshold, observation window and duration $minutes min"
}

# ---------------------------------------------------------------------------------------------
# Kerberos fixtures (contoso): what the Kerberos (SPNEGO) integration tests need, all in
# OU=Kerberos so a re-seed can rebuild it whole.
#   - svc-altgate-http, altgate's service account: SPN HTTP/sts.contoso.com, AES only
#     (msDS-SupportedEncryptionTypes 24, set when the account is created, so before the keytab
#     is exported: without it the KDC issues RC4 tickets and the keytab holds no AES key for
#     them), its keys in $DIR/http.keytab (that principal only, mode 600);
#   - svc-other-http: SPN HTTP/other.contoso.com, AES, no keytab (a ticket altgate must refuse);
#   - computers WS01$ and WS02$: enabled workstation trust accounts (primaryGroupID 515, Domain
#     Computers) with a known password, so kinit works as a computer (`samba-tool computer create`
#     would make a disabled account without usable keys);
#   - users krb-user, krb-nomail, krb-disable1..3 (tests disable and re-enable these) and
#     krb-groups, member of krb-g001..krb-g300 (OU=Groups,OU=Kerberos), whose PAC is large.
# The KDC needs no further setup: Samba's `server services` already include kdc (port 88 on the
# forest's address). `up` writes $STATE/krb5.conf for clients and checks with kinit/kvno that the
# keytab matches the KDC. Bump KERBEROS_FIXTURES to re-seed a provisioned forest.
KERBEROS_FIXTURES=1
KRB_OU=OU=Kerberos
KRB_HOST=sts.contoso.com
KRB_SPN="HTTP/$KRB_HOST"
KRB_OTHER_HOST=other.contoso.com
KRB_OTHER_SPN="HTTP/$KRB_OTHER_HOST"
KRB_HTTP_PASSWORD='Http-Altgate-Pw1!'
KRB_OTHER_PASSWORD='Other-Altgate-Pw1!'
KRB_COMPUTER_PASSWORD='Computer-Altgate-Pw1!'
KRB_COMPUTERS=(WS01 WS02)
KRB_USERS=(krb-user krb-nomail krb-groups krb-disable1 krb-disable2 krb-disable3)
KRB_GROUP_COUNT=300
KRB_HOSTS_LINE="127.0.0.1 $KRB_HOST $KRB_OTHER_HOST  # altgate-tests"

kerberos_ldif() {
    local USER_CONTAINER="$KRB_OU" # read by user_ldif
    local P="$USER_PASSWORD" S="$UPN_SUFFIX" ou="$KRB_OU,$BASE_DN" c i
    printf 'dn: %s\nobjectClass: organizationalUnit\ndescription: altgate Kerberos fixtures v%s\n\n' \
        "$ou" "$KERBEROS_FIXTURES"
    printf 'dn: OU=Groups,%s\nobjectClass: organizationalUnit\n\n' "$ou"
    user_ldif svc-altgate-http Altgate 'HTTP Service' "svc-altgate-http@$DNSDOMAIN" '' 512 \
        "$KRB_HTTP_PASSWORD" "servicePrincipalName: $KRB_SPN"$'\n''msDS-SupportedEncryptionTypes: 24'
    user_ldif svc-other-http Other 'HTTP Service' "svc-other-http@$DNSDOMAIN" '' 512 \
        "$KRB_OTHER_PASSWORD" "servicePrincipalName: $KRB_OTHER_SPN"$'\n''msDS-SupportedEncryptionTypes: 24'
    user_ldif krb-user     Kerb User     "krb-user@$S"     'krb-user@contoso.com'   512 "$P"
    user_ldif krb-nomail   Kerb Nomail   "krb-nomail@$S"   ''                       512 "$P"
    user_ldif krb-groups   Kerb Groups   "krb-groups@$S"   'krb-groups@contoso.com' 512 "$P"
    for i in 1 2 3; do
        user_ldif "krb-disable$i" Kerb "Disable$i" "krb-disable$i@$S" "krb-disable$i@contoso.com" 512 "$P"
    done
    for c in "${KRB_COMPUTERS[@]}"; do
        printf 'dn: CN=%s,%s\nobjectClass: computer\nsAMAccountName: %s$\n' "$c" "$ou" "$c"
        printf 'dNSHostName: %s.%s\n' "${c,,}" "$DNSDOMAIN"
        printf 'servicePrincipalName: HOST/%s.%s\nservicePrincipalName: HOST/%s\n' "${c,,}" "$DNSDOMAIN" "$c"
        # 4096: WORKSTATION_TRUST_ACCOUNT, enabled; Samba then sets primaryGroupID 515 itself
        # (and refuses it on add)
        printf 'userAccountControl: 4096\n'
        printf 'unicodePwd:: %s\n\n' "$(pwd_b64 "$KRB_COMPUTER_PASSWORD")"
    done
    for i in $(seq -f '%03g' 1 "$KRB_GROUP_COUNT"); do
        printf 'dn: CN=krb-g%s,OU=Groups,%s\nobjectClass: group\nsAMAccountName: krb-g%s\n' "$i" "$ou" "$i"
        printf 'member: CN=Kerb Groups,%s\n\n' "$ou"
    done
}

# export_keytab NAME: $DIR/http.keytab with the keys of $KRB_SPN only, AES ones required.
export_keytab() {
    local name="$1" keytab="$DIR/http.keytab" tmp="$DIR/.http.keytab.new" listing bad
    rm -f -- "$tmp" # exportkeytab adds to an existing keytab
    (umask 077; samba-tool domain exportkeytab "$tmp" --principal="$KRB_SPN" -s "$DIR/etc/smb.conf") \
        >>"$DIR/provision.log" 2>&1 ||
        die "$name: exporting the keytab of $KRB_SPN failed (see $DIR/provision.log)"
    listing="$(KRB5_CONFIG=/dev/null klist -ke "$tmp" 2>&1)" ||
        die "$name: klist -ke $tmp failed: $listing"
    # entries look like "   2 HTTP/sts.contoso.com@CONTOSO.COM (aes256-cts-hmac-sha1-96) "
    bad="$(awk -v p="$KRB_SPN@$REALM" 'NR > 3 && $2 != p' <<<"$listing")"
    if [[ -n "$bad" ]] || ! grep -q "^ *[0-9]* $KRB_SPN@$REALM (aes256-cts-hmac-sha1-96)" <<<"$listing" ||
        ! grep -q "^ *[0-9]* $KRB_SPN@$REALM (aes128-cts-hmac-sha1-96)" <<<"$listing"; then
        die "$name: the keytab of $KRB_SPN lacks its AES keys or holds other principals:"$'\n'"$listing"
    fi
    chmod 600 "$tmp"
    mv -f -- "$tmp" "$keytab"
}

# seed_kerberos_fixtures NAME: idempotent; a marker file makes the common case a stat.
seed_kerberos_fixtures() {
    local name="$1" marker t0 want out
    [[ "$name" == contoso ]] || return 0
    marker="$DIR/.kerberos-fixtures-$KERBEROS_FIXTURES"
    [[ -f "$marker" ]] && return 0
    t0=$(now_ms)
    # an interrupted or older seeding: rebuild the OU whole
    if ldb ldbsearch -b "$BASE_DN" -s one "($KRB_OU)" dn 2>/dev/null | grep -q '^dn:'; then
        log "$name: replacing the Kerberos fixtures in $KRB_OU,$BASE_DN"
        ldb ldbdel -r "$KRB_OU,$BASE_DN" >>"$DIR/provision.log" 2>&1 ||
            die "$name: removing the old Kerberos fixtures failed (see $DIR/provision.log)"
    fi
    kerberos_ldif >"$DIR/kerberos.ldif"
    chmod 600 "$DIR/kerberos.ldif"
    # ldbadd stops at the first record it cannot add but may still exit 0 ("Added N records
    # successfully" for the ones before it): count the records it added
    want="$(grep -c '^dn: ' "$DIR/kerberos.ldif")"
    out="$(ldb ldbadd "$DIR/kerberos.ldif" 2>&1)" || true
    printf '%s\n' "$out" >>"$DIR/provision.log"
    [[ "$out" == *"Added $want records successfully"* && "$out" != *ERR:* ]] ||
        die "$name: seeding the Kerberos fixtures failed: $(grep -m1 'ERR' <<<"$out" || tail -n1 <<<"$out")"
    export_keytab "$name"
    touch "$marker"
    log "$name: Kerberos fixtures seeded in $(( $(now_ms) - t0 )) ms"
}

# write_krb5_conf: $STATE/krb5.conf, the test forests' KDCs for MIT clients (KRB5_CONFIG).
write_krb5_conf() {
    local out="$STATE/krb5.conf" tmp name
    tmp="$(mktemp "$STATE/.krb5.conf.XXXXXX")"
    {
        printf '# The AD test forests'"'"' KDCs (written by scripts/ad-forests.sh up).\n'
        printf '[libdefaults]\n'
        printf '    default_realm = CONTOSO.COM\n'
        printf '    dns_lookup_kdc = false\n'
        printf '    dns_lookup_realm = false\n'
        printf '    rdns = false\n'
        printf '    dns_canonicalize_hostname = false\n'
        printf '    # TCP only: the tickets of a user in many groups do not fit in a UDP datagram\n'
        printf '    udp_preference_limit = 1\n'
        printf '[realms]\n'
        for name in "${FORESTS[@]}"; do
            forest_vars "$name"
            printf '    %s = {\n        kdc = %s\n    }\n' "$REALM" "$IP"
        done
        printf '[domain_realm]\n'
        for name in "${FORESTS[@]}"; do
            forest_vars "$name"
            printf '    .%s = %s\n    %s = %s\n' "$DNSDOMAIN" "$REALM" "$DNSDOMAIN" "$REALM"
        done
    } >"$tmp"
    chmod 644 "$tmp"
    mv -f -- "$tmp" "$out"
}

# ensure_hosts: the SPNs' host names resolve to 127.0.0.1 (Chromium and curl build the SPN from
# the name they resolved). Appends one line to /etc/hosts if needed; never rewrites the file.
ensure_hosts() {
    local h missing=() addr
    for h in "$KRB_HOST" "$KRB_OTHER_HOST"; do
        awk -v h="$h" '{ sub(/#.*/, "") } $1 == "127.0.0.1" { for (i = 2; i <= NF; i++) if (tolower($i) == h) f = 1 }
            END { exit !f }' /etc/hosts 2>/dev/null || missing+=("$h")
    done
    if [[ ${#missing[@]} -gt 0 ]]; then
        log "adding $KRB_HOST and $KRB_OTHER_HOST (127.0.0.1) to /etc/hosts"
        # end an unterminated last line first
        if [[ -s /etc/hosts && -n "$(tail -c 1 /etc/hosts)" ]]; then printf '\n' >>/etc/hosts; fi
        printf '%s\n' "$KRB_HOSTS_LINE" >>/etc/hosts || die "cannot append to /etc/hosts"
    fi
    for h in "$KRB_HOST" "$KRB_OTHER_HOST"; do
        # `getent hosts` too: ahostsv4 (AI_ADDRCONFIG) finds nothing on a host with loopback only
        addr="$({ getent hosts "$h"; getent ahostsv4 "$h"; } 2>/dev/null | awk '{ print $1 }' | sort -u | xargs)" || true
        [[ "$addr" == 127.0.0.1 ]] ||
            die "$h resolves to '${addr:-nothing}', not 127.0.0.1, despite /etc/hosts (check /etc/nsswitch.conf)"
    done
}

# verify_kerberos NAME: as krb-user and as WS01$, a TGT and a service ticket for $KRB_SPN whose
# kvno is the keytab's; re-exports the keytab once if the kvnos differ (the service account's
# password was changed).
verify_kerberos() {
    local name="$1" again="${2:-}" cc out kdc_kvno kt_kvno try ok who pw
    [[ "$name" == contoso ]] || return 0
    cc="$(mktemp "$STATE/.krb5cc.XXXXXX")"
    krb() { env KRB5_CONFIG="$STATE/krb5.conf" KRB5CCNAME="FILE:$cc" "$@"; }
    for who in "krb-user" "${KRB_COMPUTERS[0]}\$"; do
        pw="$USER_PASSWORD"
        [[ "$who" != *\$ ]] || pw="$KRB_COMPUTER_PASSWORD"
        # the KDC starts with the LDAP server wait_ready polled; allow it a few seconds more
        ok=0
        for try in $(seq 1 25); do
            if out="$(krb kinit "$who@$REALM" <<<"$pw" 2>&1)"; then ok=1; break; fi
            sleep 0.2
        done
        [[ $ok -eq 1 ]] || { rm -f -- "$cc"; die "$name: kinit $who@$REALM failed: $out"; }
        out="$(krb kvno "$KRB_SPN" 2>&1)" || { rm -f -- "$cc"; die "$name: kvno $KRB_SPN as $who failed: $out"; }
        kdc_kvno="$(sed -n 's/.*: kvno = \([0-9]*\)$/\1/p' <<<"$out")"
        kt_kvno="$(KRB5_CONFIG=/dev/null klist -k "$DIR/http.keytab" 2>/dev/null |
            awk -v p="$KRB_SPN@$REALM" 'NR > 3 && $2 == p { print $1; exit }')"
        if [[ -z "$kdc_kvno" || "$kdc_kvno" != "$kt_kvno" ]]; then
            rm -f -- "$cc"
            [[ -z "$again" ]] || die "$name: $KRB_SPN has kvno ${kdc_kvno:-?} at the KDC but ${kt_kvno:-none} in $DIR/http.keytab"
            log "$name: $DIR/http.keytab is stale (kvno ${kt_kvno:-none}, KDC ${kdc_kvno:-?}); exporting it again"
            export_keytab "$name"
            verify_kerberos "$name" again
            return
        fi
        krb kdestroy >/dev/null 2>&1 || true
    done
    rm -f -- "$cc"
}

# ---------------------------------------------------------------------------------------------
# Audit fixtures (`altgate audit`, tests/it/audit.rs): the Exchange attributes mailNickname and
# targetAddress in the schema (same OIDs and ranges as Exchange's schema extension, on
# mailRecipient, in the partial attribute set), and in OU=Audit one account per audit rule a
# real AD can hold. The OU's description carries the fixture version: a forest holding another
# version gets the OU rebuilt; existing users elsewhere are never touched.
AUDIT_FIXTURES="altgate audit fixtures v2"

ldb() { # TOOL [ARGS...]: an ldb tool on this forest's sam.ldb (works while Samba runs)
    local tool="$1"; shift
    "$tool" --configfile="$DIR/etc/smb.conf" -H "$DIR/private/sam.ldb" "$@"
}

extend_schema() {
    local schema="CN=Schema,CN=Configuration,$BASE_DN"
    if ldb ldbsearch -b "$schema" -s one '(lDAPDisplayName=mailNickname)' dn 2>/dev/null |
        grep -q '^dn:'; then
        return 0
    fi
    log "$1: adding mailNickname and targetAddress to the schema"
    cat >"$DIR/audit-schema.ldif" <<EOF
dn: CN=ms-Exch-Mail-Nickname,$schema
objectClass: top
objectClass: attributeSchema
cn: ms-Exch-Mail-Nickname
attributeID: 1.2.840.113556.1.2.447
attributeSyntax: 2.5.5.12
oMSyntax: 64
isSingleValued: TRUE
rangeLower: 1
rangeUpper: 64
lDAPDisplayName: mailNickname
adminDisplayName: ms-Exch-Mail-Nickname
isMemberOfPartialAttributeSet: TRUE
searchFlags: 1

dn: CN=ms-Exch-Target-Address,$schema
objectClass: top
objectClass: attributeSchema
cn: ms-Exch-Target-Address
attributeID: 1.2.840.113556.1.2.352
attributeSyntax: 2.5.5.12
oMSyntax: 64
isSingleValued: TRUE
rangeLower: 1
rangeUpper: 1123
lDAPDisplayName: targetAddress
adminDisplayName: ms-Exch-Target-Address
isMemberOfPartialAttributeSet: TRUE
searchFlags: 0

EOF
    printf 'dn: CN=Mail-Recipient,%s\nchangetype: modify\nadd: mayContain\nmayContain: mailNickname\nmayContain: targetAddress\n\n' \
        "$schema" >"$DIR/audit-schema-mod.ldif"
    ldb ldbadd --option="dsdb:schema update allowed=true" "$DIR/audit-schema.ldif" \
        >>"$DIR/provision.log" 2>&1 &&
        ldb ldbmodify --option="dsdb:schema update allowed=true" "$DIR/audit-schema-mod.ldif" \
            >>"$DIR/provision.log" 2>&1 ||
        die "$1: extending the schema failed (see $DIR/provision.log)"
}

# av ATTR VALUE: one LDIF attribute line, the value base64-encoded (any character goes)
av() { printf '%s:: %s\n' "$1" "$(printf '%s' "$2" | base64 -w0)"; }

# audit_user TAG UAC [ATTR=VALUE...]: CN "Audit TAG" in OU=Audit with sAMAccountName aud-<tag>,
# displayName "Audit TAG", givenName Audit and sn TAG unless given, and the given attributes
# (a repeated ATTR makes a multi-valued attribute).
audit_user() {
    local tag="$1" uac="$2" kv k
    shift 2
    declare -A dflt=([sAMAccountName]="aud-${tag,,}" [displayName]="Audit $tag"
        [givenName]=Audit [sn]="$tag")
    for kv in "$@"; do unset "dflt[${kv%%=*}]"; done
    printf 'dn: CN=Audit %s,OU=Audit,%s\nobjectClass: user\n' "$tag" "$BASE_DN"
    for k in sAMAccountName displayName givenName sn; do
        if [[ -n "${dflt[$k]:-}" ]]; then av "$k" "${dflt[$k]}"; fi
    done
    for kv in "$@"; do av "${kv%%=*}" "${kv#*=}"; done
    printf 'userAccountControl: %s\n\n' "$uac"
}

audit_ldif() {
    local P240 T240 L65 D256 G64
    P240="$(printf 'p%.0s' {1..240})" T240="$(printf 't%.0s' {1..240})"
    L65="$(printf 'l%.0s' {1..65})" D256="$(printf 'd%.0s' {1..256})" G64="$(printf 'g%.0s' {1..64})"
    printf 'dn: OU=Audit,%s\nobjectClass: organizationalUnit\ndescription: %s\n\n' \
        "$BASE_DN" "$AUDIT_FIXTURES"
    case "$1" in
    contoso)
        audit_user Clean 512 userPrincipalName=aud.clean@contoso.com mail=aud.clean@contoso.com
        # alt_id_ambiguous_in_forest, mail_duplicate
        audit_user Dup1 512 userPrincipalName=aud.dup1@contoso.com mail=aud.dup@contoso.com
        audit_user Dup2 512 userPrincipalName=aud.dup2@contoso.com mail=aud.dup@contoso.com
        # a disabled account that still blocks an enabled one (info)
        audit_user Helpdesk 512 userPrincipalName=aud.helpdesk@contoso.com mail=aud.helpdesk@contoso.com
        audit_user Oldhelp 514 userPrincipalName=aud.oldhelp@contoso.com mail=aud.helpdesk@contoso.com
        # alt_id_ambiguous_across_forests (with fabrikam's Audit Xf)
        audit_user Xf 512 userPrincipalName=aud.xfc@contoso.com mail=aud.cross@contoso.com
        # alt_id_shadows_upn
        audit_user Victim 512 userPrincipalName=aud.victim@contoso.com mail=aud.victim.mail@contoso.com
        audit_user Shadow 512 userPrincipalName=aud.shadow@contoso.com mail=aud.victim@contoso.com
        # upn_ambiguous, upn_duplicate (with fabrikam's Audit Twin)
        audit_user Twin 512 userPrincipalName=aud.twin@contoso.com mail=aud.twin.c@contoso.com
        # no_alt_id_nonroutable_upn, upn_top_level_domain
        audit_user Nomail 512 "userPrincipalName=aud.nomail@$UPN_SUFFIX"
        # alt_id_domain_not_federated
        audit_user Partner 512 userPrincipalName=aud.partner@contoso.com mail=aud.partner@partner.example
        # identifier_rejected, upn_format (a tab in the UPN)
        audit_user Ctl 512 "userPrincipalName=aud.ctl	x@contoso.com" mail=aud.ctl@contoso.com
        # upn_blank
        audit_user Noupn 512 mail=aud.noupn@contoso.com
        # upn_too_long (65 characters before @)
        audit_user Longupn 512 "userPrincipalName=$L65@contoso.com" mail=aud.longupn@contoso.com
        # upn_invalid_characters
        audit_user Badchar 512 'userPrincipalName=aud.bad%char@contoso.com' mail=aud.badchar@contoso.com
        audit_user Umlaut 512 userPrincipalName=aud.jürgen@contoso.com mail=aud.juergen@contoso.com
        # upn_unicode_characters
        audit_user Unicode 512 userPrincipalName=aud.josé@contoso.com mail=aud.jose@contoso.com
        # upn_format
        audit_user Dot 512 userPrincipalName=aud.dot.@contoso.com mail=aud.dot@contoso.com
        # mail_format, alt_id_domain_not_federated
        audit_user Badmail 512 userPrincipalName=aud.badmail@contoso.com mail=aud-broken-mail
        # proxy_address_* and address_conflict (with Audit Partner's UPN)
        audit_user Proxy 512 userPrincipalName=aud.proxy@contoso.com mail=aud.proxy@contoso.com \
            proxyAddresses=SMTP:aud.proxy@contoso.com "proxyAddresses=smtp:$P240@contoso.com" \
            'proxyAddresses=smtp:aud.bad(paren)@contoso.com' proxyAddresses=aud.noprefix@contoso.com \
            proxyAddresses=smtp:aud.proxy@contoso.local proxyAddresses=smtp:aud.shared.proxy@contoso.com \
            proxyAddresses=smtp:aud.partner@contoso.com
        audit_user Proxytwin 512 userPrincipalName=aud.proxytwin@contoso.com \
            mail=aud.proxytwin@contoso.com proxyAddresses=smtp:aud.shared.proxy@contoso.com
        # mailNickname and targetAddress rules
        audit_user Nick 512 userPrincipalName=aud.nick@contoso.com mail=aud.nick@contoso.com \
            mailNickname=.aud.nick 'targetAddress=SMTP:aud.nick(fwd)@partner.example'
        audit_user Nicktwin1 512 userPrincipalName=aud.nicktwin1@contoso.com \
            mail=aud.nicktwin1@contoso.com mailNickname=aud.samenick \
            targetAddress=SMTP:aud.same.target@partner.example
        audit_user Nicktwin2 512 userPrincipalName=aud.nicktwin2@contoso.com \
            mail=aud.nicktwin2@contoso.com mailNickname=aud.samenick \
            targetAddress=SMTP:aud.same.target@partner.example
        audit_user Blanknick 512 userPrincipalName=aud.blanknick@contoso.com \
            mail=aud.blanknick@contoso.com "mailNickname= " targetAddress=SMTP:not-an-address
        audit_user Longtarget 512 userPrincipalName=aud.longtarget@contoso.com \
            mail=aud.longtarget@contoso.com "targetAddress=SMTP:$T240@partner.example"
        audit_user Blanktarget 512 userPrincipalName=aud.blanktarget@contoso.com \
            mail=aud.blanktarget@contoso.com "targetAddress=  "
        # sam_account_name_too_long (21 characters)
        audit_user Longsam 512 sAMAccountName=aud-longsam-abcdefghi \
            userPrincipalName=aud.longsam@contoso.com mail=aud.longsam@contoso.com
        # display_name_blank; display_name_too_long and given_name_too_long
        audit_user Blankdisplay 512 "displayName= " userPrincipalName=aud.blankdisplay@contoso.com \
            mail=aud.blankdisplay@contoso.com
        audit_user Longdisplay 512 "displayName=$D256" "givenName=$G64" \
            userPrincipalName=aud.longdisplay@contoso.com mail=aud.longdisplay@contoso.com
        # left out as IdFix does (a HealthMailbox): no findings despite its values
        printf 'dn: CN=HealthMailboxaud01,OU=Audit,%s\nobjectClass: user\n' "$BASE_DN"
        av sAMAccountName aud-health
        av userPrincipalName 'bad%health@contoso.local'
        printf 'userAccountControl: 512\n\n'
        ;;
    fabrikam)
        audit_user Fclean 512 userPrincipalName=aud.fclean@fabrikam.com mail=aud.fclean@fabrikam.com
        audit_user Xf 512 userPrincipalName=aud.xff@fabrikam.com mail=aud.cross@contoso.com
        audit_user Twin 512 userPrincipalName=aud.twin@contoso.com mail=aud.twin.f@fabrikam.com
        ;;
    esac
}

ensure_audit_fixtures() {
    local name="$1" have
    extend_schema "$name"
    have="$(ldb ldbsearch -b "OU=Audit,$BASE_DN" -s base description 2>/dev/null |
        sed -n 's/^description: //p' || true)"
    [[ "$have" == "$AUDIT_FIXTURES" ]] && return 0
    if ldb ldbsearch -b "$BASE_DN" -s one '(ou=Audit)' dn 2>/dev/null | grep -q '^dn:'; then
        log "$name: replacing the audit fixtures (${have:-no version}) with $AUDIT_FIXTURES"
        ldb ldbdel -r "OU=Audit,$BASE_DN" >>"$DIR/provision.log" 2>&1 ||
            die "$name: removing the old audit fixtures failed (see $DIR/provision.log)"
    fi
    audit_ldif "$name" >"$DIR/audit.ldif"
    ldb ldbadd "$DIR/audit.ldif" >>"$DIR/provision.log" 2>&1 ||
        die "$name: seeding the audit fixtures failed (see $DIR/provision.log)"
    log "$name: audit fixtures in OU=Audit,$BASE_DN"
}

# ---------------------------------------------------------------------------------------------
# Benchmark forest: N synthetic users in OU=AuditBulk of northwind.com, its own forest on
# 127.0.0.4 (the test forests are never blocked by the seeding transaction), with the mix of a
# real directory: 2 % in pairs sharing a mail, 1 % whose routable UPN is another user's mail,
# 5 % with one hygiene error each. Seeded before Samba starts, in ldb's batch mode with a large
# index cache (entry by entry, ldb's index updates make a 100,000-user load take hours).
bulk_ldif() {
    awk -v n="$1" -v base="OU=AuditBulk,$BASE_DN" -v suffix="$UPN_SUFFIX" -v dom="$DNSDOMAIN" '
    function id(i) { return sprintf("%06d", i) }
    BEGIN {
        printf "dn: %s\nobjectClass: organizationalUnit\n\n", base
        long = sprintf("%0256d", 0); gsub(/0/, "d", long)
        given = sprintf("%064d", 0); gsub(/0/, "g", given)
        for (i = 1; i <= n; i++) {
            u = id(i); sam = "bulk" u; upn = sam "@" suffix; mail = sam "@" dom
            nick = sam; disp = "Bulk User " u; gn = "Bulk"; proxy = "SMTP:" mail
            r = i % 100
            if (r == 2) mail = "bulk" id(i - 1) "@" dom            # 2 %: pairs sharing a mail
            if (r == 50 && i < n) mail = "j.bulk" id(i + 1) "@" dom # 1 %: shadows the next UPN
            if (r == 51) upn = "j.bulk" u "@" dom
            if (i % 20 == 7) {                                    # 5 %: one hygiene error
                k = int(i / 20) % 5
                if (k == 0) upn = "bulk%" u "@" suffix
                if (k == 1) proxy = "SMTP:bulk(" u ")@" dom
                if (k == 2) disp = long
                if (k == 3) nick = "." sam
                if (k == 4) gn = given
            }
            printf "dn: CN=Bulk User %s,%s\nobjectClass: user\nsAMAccountName: %s\n", u, base, sam
            printf "userPrincipalName: %s\nmail: %s\nproxyAddresses: %s\nmailNickname: %s\n", upn, mail, proxy, nick
            printf "displayName: %s\ngivenName: %s\nsn: User %s\nuserAccountControl: 512\n\n", disp, gn, u
        }
    }'
}

write_bench_config() {
    (umask 077; printf '%s' "$SVC_PASSWORD" >"$DIR/svc.pw")
    cat >"$DIR/audit-bench.yaml" <<EOF
# altgate configuration for the audit benchmark (scripts/ad-forests.sh seed-bulk).
server: { listen: 127.0.0.1:0, public_url: https://sts.northwind.test }
alternate_login_id: { attribute: mail, lookup_forests: [$DNSDOMAIN] }
federation: { federated_domains: [$DNSDOMAIN] }
forests:
  - name: $DNSDOMAIN
    global_catalogs: [ldaps://$IP:3269]
    domain_controllers: { $DNSDOMAIN: [ldaps://$IP:636] }
    service_account: { user: svc-altgate@$DNSDOMAIN, password_file: $DIR/svc.pw }
    ca_file: $DIR/ca.pem
    search_base: OU=AuditBulk,$BASE_DN
EOF
}

cmd_seed_bulk() {
    local n="$1" t0
    [[ "$n" =~ ^[0-9]+$ && "$n" -ge 1 ]] || die "seed-bulk needs a positive number of users"
    forest_vars northwind
    ensure_ip "$IP"
    if is_running; then stop_forest northwind; forest_vars northwind; fi
    if [[ -e "$DIR" ]]; then rm -rf -- "$DIR"; fi
    BACKEND_STORE=mdb provision northwind
    t0=$(now_ms)
    log "northwind: seeding $n users into OU=AuditBulk,$BASE_DN"
    bulk_ldif "$n" >"$DIR/bulk.ldif"
    ldb ldbadd -o batch_mode -o "transaction_index_cache_size=$(( n * 20 + 100000 ))" \
        "$DIR/bulk.ldif" >>"$DIR/provision.log" 2>&1 ||
        die "northwind: seeding the bulk users failed (see $DIR/provision.log)"
    rm -f "$DIR/bulk.ldif"
    log "northwind: $n users seeded in $(( $(now_ms) - t0 )) ms"
    write_bench_config
    launch_samba northwind
    wait_ready northwind
    log "northwind: running on $IP; audit it with: altgate audit --config $DIR/audit-bench.yaml"
}

# json_strings VALUE...: "a","b" (the values need no JSON escaping)
json_strings() {
    local v sep=''
    for v in "$@"; do printf '%s"%s"' "$sep" "$v"; sep=,; done
}

write_json() {
    local out="$STATE/forests.json" tmp first=1 name
    tmp="$(mktemp "$STATE/.forests.json.XXXXXX")"
    {
        printf '{"forests":['
        for name in "${FORESTS[@]}"; do
            forest_vars "$name"
            [[ $first -eq 1 ]] || printf ','
            first=0
            printf '\n {"name":"%s","netbios":"%s","ip":"%s","base_dn":"%s",' \
                "$DNSDOMAIN" "$NETBIOS" "$IP" "$BASE_DN"
            printf '"gc_url":"ldaps://%s:3269","dc_url":"ldaps://%s:636","ca_file":"%s",' \
                "$IP" "$IP" "$DIR/ca.pem"
            printf '"service_user":"svc-altgate@%s","service_password":"%s",' \
                "$DNSDOMAIN" "$SVC_PASSWORD"
            printf '"admin_dn":"CN=Administrator,CN=Users,%s","admin_password":"%s",' \
                "$BASE_DN" "$ADMIN_PASSWORD"
            if [[ "$name" == contoso ]]; then
                printf '\n  "kerberos":{"realm":"%s","krb5_conf":"%s","keytab":"%s",' \
                    "$REALM" "$STATE/krb5.conf" "$DIR/http.keytab"
                printf '"spn":"%s","host":"%s","other_spn":"%s","other_host":"%s",' \
                    "$KRB_SPN" "$KRB_HOST" "$KRB_OTHER_SPN" "$KRB_OTHER_HOST"
                printf '"computers":[%s],"computer_password":"%s","users":[%s]}}' \
                    "$(json_strings "${KRB_COMPUTERS[@]/%/\$}")" "$KRB_COMPUTER_PASSWORD" \
                    "$(json_strings "${KRB_USERS[@]}")"
            else
                printf '"kerberos":null}'
            fi
        done
        printf '],\n "user_password":"%s"}\n' "$USER_PASSWORD"
    } >"$tmp"
    chmod 600 "$tmp"   # passwords of the test forests: owner only
    mv -f "$tmp" "$out"
}

# ---------------------------------------------------------------------------------------------
# Start / stop

# Start the daemon. fd 9 (the state lock) must not leak into it, or the lock would be held for
# as long as Samba runs and every later invocation of this script would block.
launch_samba() {
    samba -s "$DIR/etc/smb.conf" -D </dev/null >>"$DIR/samba.log" 2>&1 9>&- ||
        fail_with_log "$1: 'samba -D' failed"
}
start_forest() {
    local name="$1" t0
    forest_vars "$name"
    [[ -f "$DIR/.provisioned" ]] || die "$name: not provisioned (run: $0 up)"
    ensure_ip "$IP"
    if is_running; then
        wait_ready "$name"
        return 0
    fi
    t0=$(now_ms)
    if ports_open; then
        die "$name: something else is already listening on $IP: $(ss -H -l -n -t -u src "$IP" | head -3)"
    fi
    # stale pid file (e.g. after a reboot): Samba would cope, but remove it to keep things clear
    rm -f "$DIR/samba.pid"
    launch_samba "$name"
    wait_ready "$name"
    log "$name: running on $IP (pid $(master_pid || echo '?'); ready in $(( $(now_ms) - t0 )) ms)"
}

stop_forest() {
    local name="$1" pid t0 deadline pids
    forest_vars "$name"
    t0=$(now_ms)
    deadline=$(( t0 + STOP_TIMEOUT * 1000 ))
    if pid="$(master_pid)"; then
        # SIGTERM to the master: as process-group leader it forwards SIGTERM to its workers.
        kill -TERM "$pid" 2>/dev/null || true
    elif pid="$(orphaned_group)"; then
        # the master died but some of its samba workers live on: stop them
        log "$name: samba master gone, stopping its leftover workers (process group $pid)"
        kill -TERM -- "-$pid" 2>/dev/null || true
    else
        if ports_open; then
            die "$name: no samba process for $DIR but something listens on $IP: $(ss -H -l -n -t -u src "$IP" | head -3)"
        fi
        rm -f "$DIR/samba.pid"
        log "$name: already stopped"
        return 0
    fi
    while :; do
        pids="$(group_pids "$pid")"
        if [[ -z "$pids" ]] && ! ports_open; then break; fi
        if [[ $(now_ms) -ge $deadline ]]; then
            if [[ -n "$pids" ]]; then
                log "$name: still running after ${STOP_TIMEOUT}s; sending SIGKILL to process group $pid"
                kill -KILL -- "-$pid" 2>/dev/null || true
                sleep 0.5
            fi
            if [[ -n "$(group_pids "$pid")" ]] || ports_open; then
                fail_with_log "$name: could not stop samba (process group $pid)"
            fi
            break
        fi
        sleep 0.05
    done
    rm -f "$DIR/samba.pid"
    log "$name: stopped in $(( $(now_ms) - t0 )) ms"
}

# ---------------------------------------------------------------------------------------------
need_tools() {
    local t missing=()
    for t in samba samba-tool ldbadd ldbmodify ldbsearch ldapsearch openssl ip ss iconv base64 flock \
        kinit kvno klist getent; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    [[ ${#missing[@]} -eq 0 ]] || die "missing tools: ${missing[*]} (apt-get install samba samba-ad-dc ldb-tools ldap-utils openssl iproute2 krb5-user)"
    [[ $EUID -eq 0 ]] || die "must run as root (loopback aliases and samba)"
}

lock_state() {
    mkdir -p "$STATE"
    chmod 700 "$STATE"
    exec 9>"$STATE/.lock"
    flock -w 120 9 || die "timed out waiting for the lock $STATE/.lock (another ad-forests.sh running?)"
}

cmd_up() {
    local name pids=() failed=0 i
    ensure_hosts
    for name in "${FORESTS[@]}"; do
        forest_vars "$name"
        ensure_ip "$IP"
        if [[ ! -f "$DIR/.provisioned" ]]; then
            if is_running; then stop_forest "$name"; forest_vars "$name"; fi
            # provision the forests in parallel (each is mostly single-threaded Python)
            ( forest_vars "$name"; provision "$name" ) &
            pids+=("$!")
        fi
    done
    for i in "${pids[@]}"; do wait "$i" || failed=1; done
    [[ $failed -eq 0 ]] || die "provisioning failed"
    # forests provisioned before the audit fixtures existed get them now (idempotent)
    for name in "${FORESTS[@]}"; do
        forest_vars "$name"
        ensure_audit_fixtures "$name"
    done
    write_json
    write_krb5_conf
    # start both first, then wait, so the two start-ups overlap
    for name in "${FORESTS[@]}"; do
        forest_vars "$name"
        if ! is_running; then
            rm -f "$DIR/samba.pid"
            ports_open && die "$name: something else is already listening on $IP"
            launch_samba "$name"
        fi
    done
    for name in "${FORESTS[@]}"; do
        forest_vars "$name"
        wait_ready "$name"
        # forests provisioned before the lockout fixtures existed get them now (once)
        seed_lockout_fixtures "$name"
        # and the Kerberos fixtures; then kinit/kvno against the KDC (contoso)
        seed_kerberos_fixtures "$name"
        verify_kerberos "$name"
        log "$name: ready on $IP (pid $(master_pid || echo '?'))"
    done
    log "forests described in $STATE/forests.json"
}

cmd_status() {
    local name rc=0
    for name in "${FORESTS[@]}"; do
        forest_vars "$name"
        if [[ ! -f "$DIR/.provisioned" ]]; then
            printf '%s: not provisioned\n' "$name"; rc=1
        elif pid="$(master_pid)"; then
            printf '%s: running (pid %s, %s)\n' "$name" "$pid" "$IP"
        else
            printf '%s: stopped\n' "$name"; rc=1
        fi
    done
    return $rc
}

usage() {
    sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

main() {
    [[ $# -ge 1 ]] || usage
    local cmd="$1"; shift
    case "$cmd" in
    up)     [[ $# -eq 0 ]] || usage; need_tools; lock_state; cmd_up ;;
    down)   [[ $# -eq 0 ]] || usage; need_tools; lock_state
            for n in "${FORESTS[@]}"; do stop_forest "$n"; done ;;
    start)  [[ $# -eq 1 ]] || usage; need_tools; forest_vars "$1"; lock_state; start_forest "$1" ;;
    stop)   [[ $# -eq 1 ]] || usage; need_tools; forest_vars "$1"; lock_state; stop_forest "$1" ;;
    status) [[ $# -eq 0 ]] || usage; cmd_status ;;
    lockout-policy) [[ $# -eq 2 || $# -eq 3 ]] || usage; need_tools; forest_vars "$1"; lock_state
            lockout_policy "$@" ;;
    seed-bulk) [[ $# -eq 1 ]] || usage; need_tools; lock_state; cmd_seed_bulk "$1" ;;
    bench-down) [[ $# -eq 0 ]] || usage; need_tools; forest_vars northwind; lock_state
            stop_forest northwind; forest_vars northwind; rm -rf -- "$DIR"
            log "northwind: benchmark forest removed" ;;
    reset)  [[ $# -eq 0 ]] || usage; need_tools; lock_state
            for n in "${FORESTS[@]}"; do stop_forest "$n"; done
            for n in "${FORESTS[@]}"; do rm -rf -- "${STATE:?}/$n"; done
            rm -f -- "$STATE/forests.json" "$STATE"/.forests.json.* "$STATE/krb5.conf" \
                "$STATE"/.krb5.conf.* "$STATE"/.krb5cc.* "$STATE/.lock"
            rmdir -- "$STATE" 2>/dev/null || log "note: $STATE not empty, left in place"
            log "removed forest state under $STATE" ;;
    -h|--help|help) usage ;;
    *) usage ;;
    esac
}

main "$@"
