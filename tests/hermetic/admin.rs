//! The admin API on a single node with the in-process store, as an operator uses it: `altgate
//! lockout` shows the running service's counts (not an empty store of its own), `reset` lets a
//! locked-out user in, familiar locations are added and removed; changes need the bearer
//! token; `/ready` and `/health` answer; and the CLI says so, exiting non-zero, when there is no
//! admin listener to ask.

use crate::kit::cli::{altgate_async, json};
use crate::kit::config::parse;
use crate::kit::demo::{config_yaml, Served};
use crate::kit::files::{private_dir, secret_file, write_config};
use crate::kit::http::{admin_get, admin_request, free_port, https};
use crate::kit::wstrust::rst13;

const SOAP: &str = "application/soap+xml; charset=utf-8";
const WSTRUST_13: &str = "/adfs/services/trust/13/usernamemixed";
const TOKEN: &str = "admin-api-test-token";

/// Waits until the admin listener (bound by the server as it starts) accepts connections.
async fn listening(port: u16) -> std::net::SocketAddr {
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(addr).await.is_ok() {
            return addr;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the admin listener never came up on {addr}");
}

/// A demo node with an admin listener (with a bearer token when `token`), extranet lockout at
/// 3, token signing.
fn yaml(name: &str, admin_port: u16, token: bool) -> String {
    let dir = private_dir().join(name);
    std::fs::create_dir_all(&dir).expect("dir");
    let token = if token {
        format!(
            ", bearer_token_file: {}",
            secret_file(&format!("{name}.token"), TOKEN).display()
        )
    } else {
        String::new()
    };
    let mut y = config_yaml(&dir.join("tls.crt"), &dir.join("tls.key"), "");
    y.push_str(&format!(
        "admin: {{ listen: 127.0.0.1:{admin_port}{token} }}\n\
         extranet_lockout: {{ mode: enforce, threshold: 3, ip_failures_per_minute: 0 }}\n\
         directory: {{ health_check_interval: 1s }}\n\
         token_signing: {{ cert_file: {}, key_file: {}, generate_dev_certificate: true }}\n\
         relying_parties: [{{ identifier: 'urn:federation:MicrosoftOnline' }}]\n",
        dir.join("ts.crt").display(),
        dir.join("ts.key").display()
    ));
    y
}

#[tokio::test]
async fn lockout_status_and_reset_ask_the_running_single_node() {
    let port = free_port();
    let y = yaml("admin-api", port, true);
    let served = Served::start(parse(&y)).await;
    let admin = listening(port).await;
    let cfg = write_config("admin-api.yaml", &y);
    let cfg = cfg.to_str().expect("utf-8");
    let ca = private_dir().join("admin-api/tls.crt");
    crate::kit::certs::wait_for_certificate(&ca).await;
    let sign_in = |password: &'static str| {
        https(
            served.addr,
            &ca,
            "POST",
            WSTRUST_13,
            Some(SOAP),
            rst13("jdoe@contoso.com", password).into_bytes(),
        )
    };
    for _ in 0..3 {
        assert_eq!(sign_in("Wrong-Passw0rd!").await.0, 500);
    }
    // Locked out: the right password is refused without reaching the directory.
    assert_eq!(sign_in("Demo-Passw0rd!").await.0, 500);

    let out = altgate_async(&[
        "lockout",
        "status",
        "--config",
        cfg,
        "--json",
        "jdoe@contoso.com",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let v = json(&out);
    assert_eq!(v["unfamiliar"]["bad_password_count"], 3, "{v}");
    assert!(v["unfamiliar"]["locked_until"].as_u64().is_some(), "{v}");
    // Another spelling of the same account, as text.
    let out = altgate_async(&["lockout", "status", "--config", cfg, "CONTOSO\\jdoe"]).await;
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("unfamiliar bad passwords: 3"), "{text}");

    let out = altgate_async(&[
        "lockout",
        "reset",
        "--config",
        cfg,
        "--json",
        "jdoe@contoso.com",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(json(&out)["unfamiliar"]["bad_password_count"], 0);
    assert_eq!(
        sign_in("Demo-Passw0rd!").await.0,
        200,
        "reset lets the user in"
    );

    let out = altgate_async(&[
        "lockout",
        "familiar",
        "add",
        "--config",
        cfg,
        "--json",
        "jdoe@contoso.com",
        "192.0.2.44",
    ])
    .await;
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let ips: Vec<String> = json(&out)["familiar_locations"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|l| l["ip"].as_str().map(str::to_string))
        .collect();
    assert!(ips.contains(&"192.0.2.44".to_string()), "{ips:?}");
    let out = altgate_async(&[
        "lockout",
        "familiar",
        "remove",
        "--config",
        cfg,
        "--json",
        "jdoe@contoso.com",
        "192.0.2.44",
    ])
    .await;
    assert!(!String::from_utf8_lossy(&out.stdout).contains("192.0.2.44"));

    // Unknown logins are a clear error, not an empty record.
    let out = altgate_async(&["lockout", "status", "--config", cfg, "nobody@contoso.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the service answered 404: not_found"),
        "{out:?}"
    );

    // The API without the token: nothing read, nothing changed.
    let path = "/api/v1/account-activity/reset?login=jdoe%40contoso.com";
    assert_eq!(admin_request(admin, "POST", path, None).await.0, 401);
    assert_eq!(
        admin_request(admin, "POST", path, Some("wrong")).await.0,
        401
    );
    assert_eq!(admin_request(admin, "PUT", path, Some(TOKEN)).await.0, 405);

    // Readiness: the demo directory has no servers to check; the in-process store is usable.
    let mut ready = (0, Vec::new(), String::new());
    for _ in 0..50 {
        ready = admin_get(admin, "/ready", Some(TOKEN)).await;
        if ready.0 == 200 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!((ready.0, ready.2.as_str()), (200, "ready\n"));
    let (status, _, body) = admin_get(admin, "/health", Some(TOKEN)).await;
    assert_eq!(status, 200);
    let h: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(h["status"], "ready");
    assert_eq!(h["state"]["backend"], "memory");
    assert_eq!(h["forests"][0]["name"], "contoso.com");
    served.stop().await;

    // The service is gone: the CLI says so and prints no state.
    let out = altgate_async(&["lockout", "status", "--config", cfg, "jdoe@contoso.com"]).await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("cannot reach the running service's admin listener at 127.0.0.1:"),
        "{err}"
    );
}

#[tokio::test]
async fn changes_need_a_token_and_the_cli_needs_an_admin_listener() {
    let port = free_port();
    // No bearer token: reads work, changes are refused.
    let y = yaml("admin-no-token", port, false);
    let served = Served::start(parse(&y)).await;
    let admin = listening(port).await;
    let (status, _, body) = admin_request(
        admin,
        "POST",
        "/api/v1/account-activity/reset?login=jdoe%40contoso.com",
        None,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    assert!(body.contains("no_admin_token"), "{body}");
    let (status, _, _) = admin_get(
        admin,
        "/api/v1/account-activity?login=jdoe%40contoso.com",
        None,
    )
    .await;
    assert_eq!(status, 200);
    served.stop().await;

    let without = yaml("admin-none", free_port(), false);
    let without: String = without
        .lines()
        .filter(|l| !l.starts_with("admin:"))
        .map(|l| format!("{l}\n"))
        .collect();
    let cfg = write_config("admin-none.yaml", &without);
    let out = altgate_async(&[
        "lockout",
        "status",
        "--config",
        cfg.to_str().expect("utf-8"),
        "jdoe@contoso.com",
    ])
    .await;
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("no admin listener is configured"),
        "{out:?}"
    );
}
