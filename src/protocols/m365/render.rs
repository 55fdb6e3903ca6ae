//! The three forms of `altgate m365 federation-settings`: JSON (one object keyed by domain,
//! each value exactly the Graph `internalDomainFederation` body), Microsoft Graph PowerShell
//! (every value single-quoted, so nothing in it is interpreted), and a text explanation for
//! people, including the sub-domain rule and why MFA stays with Entra ID.

use super::{rfc3339, DomainFederation, MFA_BEHAVIOR, ODATA_TYPE};
use serde_json::{json, Map, Value};

/// The Graph body of one domain.
pub fn graph_body(d: &DomainFederation) -> Value {
    let mut body = json!({
        "@odata.type": ODATA_TYPE,
        "displayName": d.display_name,
        "issuerUri": d.issuer_uri,
        "passiveSignInUri": d.endpoints.passive,
        "activeSignInUri": d.endpoints.active_sign_in(),
        "metadataExchangeUri": d.endpoints.mex,
        "signOutUri": d.endpoints.sign_out,
        "signingCertificate": d.signing.base64,
        "preferredAuthenticationProtocol": d.protocol.graph(),
        "promptLoginBehavior": d.prompt_login.graph(),
        "federatedIdpMfaBehavior": MFA_BEHAVIOR,
    });
    if let (Some(next), Some(map)) = (&d.next_signing, body.as_object_mut()) {
        map.insert(
            "nextSigningCertificate".into(),
            Value::String(next.base64.clone()),
        );
    }
    body
}

/// `{ "<domain>": <Graph body>, ... }`.
pub fn json(domains: &[DomainFederation]) -> Value {
    let mut map = Map::new();
    for d in domains {
        map.insert(d.domain.clone(), graph_body(d));
    }
    Value::Object(map)
}

/// `s` as a PowerShell single-quoted string: nothing inside is expanded; a quote character
/// (PowerShell also takes the typographic single quotes U+2018 to U+201B as quotes) is doubled.
pub fn ps_quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if matches!(c, '\'' | '\u{2018}' | '\u{2019}' | '\u{201A}' | '\u{201B}') {
            out.push(c);
        }
        out.push(c);
    }
    out.push('\'');
    out
}

/// The Graph body's (key, value) pairs in PowerShell order.
fn ps_pairs(d: &DomainFederation) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("'@odata.type'", ODATA_TYPE.to_string()),
        ("displayName", d.display_name.clone()),
        ("issuerUri", d.issuer_uri.clone()),
        ("passiveSignInUri", d.endpoints.passive.clone()),
        ("activeSignInUri", d.endpoints.active_sign_in().to_string()),
        ("metadataExchangeUri", d.endpoints.mex.clone()),
        ("signOutUri", d.endpoints.sign_out.clone()),
        ("signingCertificate", d.signing.base64.clone()),
    ];
    if let Some(next) = &d.next_signing {
        pairs.push(("nextSigningCertificate", next.base64.clone()));
    }
    pairs.extend([
        (
            "preferredAuthenticationProtocol",
            d.protocol.graph().to_string(),
        ),
        ("promptLoginBehavior", d.prompt_login.graph().to_string()),
        ("federatedIdpMfaBehavior", MFA_BEHAVIOR.to_string()),
    ]);
    pairs
}

/// A Microsoft Graph PowerShell script that federates (or re-points) every domain, parents
/// first.
pub fn powershell(domains: &[DomainFederation]) -> String {
    let mut out = String::from(
        "# Microsoft Entra ID federation settings for altgate, from `altgate m365 federation-settings`.\n\
         # Needs the Microsoft Graph PowerShell SDK (Install-Module Microsoft.Graph) and a Domain Name,\n\
         # Hybrid Identity or External Identity Provider Administrator. Domains come parents first.\n\
         # A domain already federated (with AD FS, say) is updated in place; a managed one becomes federated.\n\
         $ErrorActionPreference = 'Stop'\n\
         Connect-MgGraph -Scopes 'Domain.ReadWrite.All'\n",
    );
    for d in domains {
        let id = ps_quote(&d.domain);
        out.push_str(&format!(
            "\n# {}: issuer {}\n",
            d.domain.replace(['\r', '\n'], " "),
            d.issuer_uri.replace(['\r', '\n'], " ")
        ));
        if let Some(parent) = &d.parent {
            out.push_str(&format!(
                "# {} is a sub-domain of {}: Entra ID federates it separately only as a root domain:\n# Invoke-MgPromoteDomain -DomainId {id}\n",
                d.domain, parent
            ));
        }
        out.push_str("$body = @{\n");
        for (k, v) in ps_pairs(d) {
            out.push_str(&format!("    {k} = {}\n", ps_quote(&v)));
        }
        out.push_str("}\n");
        out.push_str(&format!(
            "$current = Get-MgDomainFederationConfiguration -DomainId {id} | Select-Object -First 1\n\
             if ($current) {{\n\
             \x20   Update-MgDomainFederationConfiguration -DomainId {id} -InternalDomainFederationId $current.Id -BodyParameter $body\n\
             }} else {{\n\
             \x20   New-MgDomainFederationConfiguration -DomainId {id} -BodyParameter $body\n\
             }}\n"
        ));
    }
    out
}

/// The explanation for people.
pub fn text(domains: &[DomainFederation]) -> String {
    let mut out = String::new();
    for d in domains {
        out.push_str(&format!("{}\n", d.domain));
        let mut row = |k: &str, v: &str| out.push_str(&format!("  {k:<33} {v}\n"));
        row("issuerUri", &d.issuer_uri);
        row("passiveSignInUri", &d.endpoints.passive);
        row("activeSignInUri", d.endpoints.active_sign_in());
        row("metadataExchangeUri", &d.endpoints.mex);
        row("signOutUri", &d.endpoints.sign_out);
        row(
            "signingCertificate",
            &format!(
                "{} (valid until {})",
                d.signing.subject,
                rfc3339(d.signing.not_after)
            ),
        );
        match &d.next_signing {
            Some(n) => row(
                "nextSigningCertificate",
                &format!(
                    "{} (valid {} to {})",
                    n.subject,
                    rfc3339(n.not_before),
                    rfc3339(n.not_after)
                ),
            ),
            None => row("nextSigningCertificate", "(none: no rollover in progress)"),
        }
        row("preferredAuthenticationProtocol", d.protocol.graph());
        row("promptLoginBehavior", d.prompt_login.graph());
        row("federatedIdpMfaBehavior", MFA_BEHAVIOR);
        if let Some(parent) = &d.parent {
            out.push_str(&format!(
                "  note: {} is listed in federation.federated_domains although it is a sub-domain of {}, so\n\
                 \x20       altgate issues its users their own issuer {}. Entra ID accepts that only once\n\
                 \x20       {} is a root domain there (Invoke-MgPromoteDomain, before applying these settings);\n\
                 \x20       otherwise remove it from federated_domains so its users get {}'s issuer.\n",
                d.domain, parent, d.issuer_uri, d.domain, parent
            ));
        }
        out.push('\n');
    }
    let first = domains.first();
    let metadata = first.map_or("", |d| d.endpoints.metadata.as_str());
    out.push_str(&format!(
        "Sub-domains: a user whose UPN is in a sub-domain of a federated domain (sales.contoso.com under\n\
         contoso.com) gets the parent's issuer, and Entra ID federates a sub-domain together with its\n\
         root domain: federate the parent first; its sub-domains need no settings of their own. (AD FS\n\
         needed Convert-MsolDomainToFederated -SupportMultipleDomain and an issuerid claim rule for\n\
         several domains; altgate issues the per-domain issuer itself.)\n\
         \n\
         MFA: altgate performs no multi-factor authentication and never claims it. With\n\
         federatedIdpMfaBehavior {MFA_BEHAVIOR}, Entra ID performs MFA itself whenever Conditional\n\
         Access requires it.\n\
         \n\
         promptLoginBehavior: translateToFreshPasswordAuthentication (Entra's default) sends wfresh=0\n\
         and a password wauth when an application asks for prompt=login; nativeSupport passes\n\
         prompt=login on; disabled sends only wfresh=0.\n\
         \n\
         Certificates: Entra ID reads {metadata}\n\
         and, from 30 days before the signing certificate expires, picks up the next one published\n\
         there (token_signing.next_cert_file). --format json gives the Graph bodies, --format powershell\n\
         a Microsoft Graph PowerShell script that applies them.\n"
    ));
    out
}
