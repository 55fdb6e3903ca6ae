//! The WS-MetadataExchange document (`/adfs/services/trust/mex`): a WSDL with the WS-Policy
//! assertions clients look for (transport security, a username token) and both usernamemixed
//! endpoints, so a client that discovers endpoints from mex finds them. Shaped after what
//! AD FS publishes and what Microsoft's MSAL parser requires (policy under the root, a
//! `soap12:binding` with an HTTP transport and a `soapAction` per binding, a
//! `wsa10:EndpointReference` per port). With Windows integrated sign-in on, the two
//! windowstransport endpoints are advertised too, with AD FS's binding names and its
//! `http:NegotiateAuthentication` policy.

use crate::endpoint::PublicEndpoints;
use crate::xml::escape_attr;
use crate::xml::escape_text;

/// The windowstransport policy as AD FS publishes it (MSAL.NET picks an endpoint for integrated
/// Windows authentication from a policy whose `wsp:All` holds `http:NegotiateAuthentication`
/// and a `TransportBinding`).
fn windows_policy(id: &str) -> String {
    format!(
        r##"<wsp:Policy wsu:Id="{id}"><wsp:ExactlyOne><wsp:All><http:NegotiateAuthentication xmlns:http="http://schemas.microsoft.com/ws/06/2004/policy/http"/><sp2005:TransportBinding><wsp:Policy><sp2005:TransportToken><wsp:Policy><sp2005:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp2005:TransportToken><sp2005:AlgorithmSuite><wsp:Policy><sp2005:Basic256/></wsp:Policy></sp2005:AlgorithmSuite><sp2005:Layout><wsp:Policy><sp2005:Strict/></wsp:Policy></sp2005:Layout></wsp:Policy></sp2005:TransportBinding><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>"##
    )
}

/// A binding of the windowstransport policy `name` for WS-Trust `version_2005` or 1.3.
fn windows_binding(name: &str, version_2005: bool) -> String {
    let (contract, operation, action) = if version_2005 {
        (
            "IWSTrustFeb2005Async",
            "TrustFeb2005IssueAsync",
            "http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue",
        )
    } else {
        (
            "IWSTrust13Async",
            "Trust13IssueAsync",
            "http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue",
        )
    };
    format!(
        r##"<wsdl:binding name="{name}" type="tns:{contract}"><wsp:PolicyReference URI="#{name}_policy"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="{operation}"><soap12:operation soapAction="{action}" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>"##
    )
}

/// A port of binding `name` at `url`.
fn port(name: &str, url: &str) -> String {
    let (text, attr) = (escape_text(url), escape_attr(url));
    format!(
        r##"<wsdl:port name="{name}" binding="tns:{name}"><soap12:address location="{attr}"/><wsa10:EndpointReference><wsa10:Address>{text}</wsa10:Address></wsa10:EndpointReference></wsdl:port>"##
    )
}

/// AD FS's binding names for windowstransport 2005 and 1.3.
const WINDOWS_2005: &str = "CustomBinding_IWSTrustFeb2005Async";
const WINDOWS_13: &str = "CustomBinding_IWSTrust13Async1";

/// Builds the mex document for `public_url` (no trailing slash); with `windows_transport`, the
/// two windowstransport endpoints too.
pub fn document(public_url: &str, windows_transport: bool) -> String {
    let urls = PublicEndpoints::new(public_url);
    let (policies, bindings, ports) = if windows_transport {
        (
            format!(
                "{}{}",
                windows_policy(&format!("{WINDOWS_2005}_policy")),
                windows_policy(&format!("{WINDOWS_13}_policy"))
            ),
            format!(
                "{}{}",
                windows_binding(WINDOWS_2005, true),
                windows_binding(WINDOWS_13, false)
            ),
            format!(
                "{}{}",
                port(WINDOWS_2005, &urls.wstrust_2005_windows),
                port(WINDOWS_13, &urls.wstrust_13_windows)
            ),
        )
    } else {
        (String::new(), String::new(), String::new())
    };
    let (wst13, wst13_attr) = (escape_text(&urls.wstrust_13), escape_attr(&urls.wstrust_13));
    let (wst2005, wst2005_attr) = (
        escape_text(&urls.wstrust_2005),
        escape_attr(&urls.wstrust_2005),
    );
    format!(
        r##"<?xml version="1.0" encoding="utf-8"?><wsdl:definitions name="SecurityTokenService" targetNamespace="http://tempuri.org/" xmlns:wsdl="http://schemas.xmlsoap.org/wsdl/" xmlns:soap12="http://schemas.xmlsoap.org/wsdl/soap12/" xmlns:wsu="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd" xmlns:wsp="http://schemas.xmlsoap.org/ws/2004/09/policy" xmlns:sp="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702" xmlns:sp2005="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy" xmlns:wsaw="http://www.w3.org/2006/05/addressing/wsdl" xmlns:wsa10="http://www.w3.org/2005/08/addressing" xmlns:tns="http://tempuri.org/"><wsp:Policy wsu:Id="UserNameWSTrustBinding_IWSTrust13Async_policy"><wsp:ExactlyOne><wsp:All><sp:TransportBinding><wsp:Policy><sp:TransportToken><wsp:Policy><sp:HttpsToken/></wsp:Policy></sp:TransportToken><sp:AlgorithmSuite><wsp:Policy><sp:Basic256/></wsp:Policy></sp:AlgorithmSuite><sp:Layout><wsp:Policy><sp:Strict/></wsp:Policy></sp:Layout><sp:IncludeTimestamp/></wsp:Policy></sp:TransportBinding><sp:SignedEncryptedSupportingTokens><wsp:Policy><sp:UsernameToken sp:IncludeToken="http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp:WssUsernameToken10/></wsp:Policy></sp:UsernameToken></wsp:Policy></sp:SignedEncryptedSupportingTokens><sp:Wss11><wsp:Policy/></sp:Wss11><sp:Trust13><wsp:Policy><sp:MustSupportIssuedTokens/><sp:RequireClientEntropy/><sp:RequireServerEntropy/></wsp:Policy></sp:Trust13><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy><wsp:Policy wsu:Id="UserNameWSTrustBinding_IWSTrustFeb2005Async_policy"><wsp:ExactlyOne><wsp:All><sp2005:TransportBinding><wsp:Policy><sp2005:TransportToken><wsp:Policy><sp2005:HttpsToken RequireClientCertificate="false"/></wsp:Policy></sp2005:TransportToken><sp2005:AlgorithmSuite><wsp:Policy><sp2005:Basic256/></wsp:Policy></sp2005:AlgorithmSuite><sp2005:Layout><wsp:Policy><sp2005:Strict/></wsp:Policy></sp2005:Layout><sp2005:IncludeTimestamp/></wsp:Policy></sp2005:TransportBinding><sp2005:SignedSupportingTokens><wsp:Policy><sp2005:UsernameToken sp2005:IncludeToken="http://schemas.xmlsoap.org/ws/2005/07/securitypolicy/IncludeToken/AlwaysToRecipient"><wsp:Policy><sp2005:WssUsernameToken10/></wsp:Policy></sp2005:UsernameToken></wsp:Policy></sp2005:SignedSupportingTokens><sp2005:Wss11><wsp:Policy/></sp2005:Wss11><sp2005:Trust10><wsp:Policy><sp2005:MustSupportIssuedTokens/><sp2005:RequireClientEntropy/><sp2005:RequireServerEntropy/></wsp:Policy></sp2005:Trust10><wsaw:UsingAddressing/></wsp:All></wsp:ExactlyOne></wsp:Policy>{policies}<wsdl:binding name="UserNameWSTrustBinding_IWSTrust13Async" type="tns:IWSTrust13Async"><wsp:PolicyReference URI="#UserNameWSTrustBinding_IWSTrust13Async_policy"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="Trust13IssueAsync"><soap12:operation soapAction="http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding><wsdl:binding name="UserNameWSTrustBinding_IWSTrustFeb2005Async" type="tns:IWSTrustFeb2005Async"><wsp:PolicyReference URI="#UserNameWSTrustBinding_IWSTrustFeb2005Async_policy"/><soap12:binding transport="http://schemas.xmlsoap.org/soap/http"/><wsdl:operation name="TrustFeb2005IssueAsync"><soap12:operation soapAction="http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue" style="document"/><wsdl:input><soap12:body use="literal"/></wsdl:input><wsdl:output><soap12:body use="literal"/></wsdl:output></wsdl:operation></wsdl:binding>{bindings}<wsdl:service name="SecurityTokenService"><wsdl:port name="UserNameWSTrustBinding_IWSTrust13Async" binding="tns:UserNameWSTrustBinding_IWSTrust13Async"><soap12:address location="{wst13_attr}"/><wsa10:EndpointReference><wsa10:Address>{wst13}</wsa10:Address></wsa10:EndpointReference></wsdl:port><wsdl:port name="UserNameWSTrustBinding_IWSTrustFeb2005Async" binding="tns:UserNameWSTrustBinding_IWSTrustFeb2005Async"><soap12:address location="{wst2005_attr}"/><wsa10:EndpointReference><wsa10:Address>{wst2005}</wsa10:Address></wsa10:EndpointReference></wsdl:port>{ports}</wsdl:service></wsdl:definitions>"##
    )
}

#[cfg(test)]
mod tests {
    use crate::xml::parse::{parse, Limits};

    #[test]
    fn mex_parses_and_lists_both_endpoints() {
        let doc = super::document("https://sts.contoso.com", false);
        let limits = Limits {
            max_depth: 32,
            max_elements: 4096,
            max_attributes: 32,
        };
        let root = parse(doc.as_bytes(), limits).expect("well-formed");
        let service = root
            .child("http://schemas.xmlsoap.org/wsdl/", "service")
            .expect("service");
        let addresses: Vec<&str> = service
            .children
            .iter()
            .filter_map(|p| p.child_local("EndpointReference")?.child_local("Address"))
            .map(|a| a.text())
            .collect();
        assert_eq!(
            addresses,
            vec![
                "https://sts.contoso.com/adfs/services/trust/13/usernamemixed",
                "https://sts.contoso.com/adfs/services/trust/2005/usernamemixed"
            ]
        );
    }

    /// The integrated-auth endpoints a client finds the way MSAL.NET's `MexDocument` does: a
    /// `wsp:Policy` (with a `wsu:Id`) whose `ExactlyOne/All` holds `http:NegotiateAuthentication`
    /// and a `TransportBinding`; a `wsdl:binding` referring to it (`#Id`) whose operation's
    /// `soapAction` says the version; a port of that binding (`tns:` prefix) with a
    /// `wsa10:EndpointReference/Address`. Returns (version, address) pairs.
    fn integrated_endpoints(doc: &str) -> Vec<(&'static str, String)> {
        const WSP: &str = "http://schemas.xmlsoap.org/ws/2004/09/policy";
        const WSU: &str =
            "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd";
        const HTTP: &str = "http://schemas.microsoft.com/ws/06/2004/policy/http";
        const WSDL: &str = "http://schemas.xmlsoap.org/wsdl/";
        const SOAP12: &str = "http://schemas.xmlsoap.org/wsdl/soap12/";
        const WSA10: &str = "http://www.w3.org/2005/08/addressing";
        let limits = Limits {
            max_depth: 32,
            max_elements: 4096,
            max_attributes: 32,
        };
        let root = parse(doc.as_bytes(), limits).expect("well-formed");
        let mut policies = Vec::new();
        for p in root.children.iter().filter(|c| c.is(WSP, "Policy")) {
            let Some(all) = p.child(WSP, "ExactlyOne").and_then(|e| e.child(WSP, "All")) else {
                continue;
            };
            let negotiate = all.child(HTTP, "NegotiateAuthentication").is_some();
            let transport = all.children.iter().any(|c| c.local == "TransportBinding");
            if let (true, true, Some(id)) = (negotiate, transport, p.attr(WSU, "Id")) {
                policies.push(format!("#{id}"));
            }
        }
        let mut bindings = Vec::new();
        for b in root.children.iter().filter(|c| c.is(WSDL, "binding")) {
            let uri = b
                .child(WSP, "PolicyReference")
                .and_then(|r| r.attr("", "URI"));
            if !uri.is_some_and(|u| policies.iter().any(|p| p == u)) {
                continue;
            }
            let action = b
                .child(WSDL, "operation")
                .and_then(|o| o.child(SOAP12, "operation"))
                .and_then(|o| o.attr("", "soapAction"));
            let version = match action {
                Some("http://schemas.xmlsoap.org/ws/2005/02/trust/RST/Issue") => "2005",
                Some("http://docs.oasis-open.org/ws-sx/ws-trust/200512/RST/Issue") => "13",
                _ => continue,
            };
            bindings.push((b.attr("", "name").unwrap_or_default().to_string(), version));
        }
        let service = root.child(WSDL, "service").expect("service");
        let mut out = Vec::new();
        for port in service.children.iter().filter(|c| c.is(WSDL, "port")) {
            let Some((_, name)) = port.attr("", "binding").and_then(|b| b.split_once(':')) else {
                continue;
            };
            let Some((_, version)) = bindings.iter().find(|(n, _)| n == name) else {
                continue;
            };
            let address = port
                .child(WSA10, "EndpointReference")
                .and_then(|e| e.child(WSA10, "Address"))
                .map(|a| a.text().to_string())
                .expect("address");
            out.push((*version, address));
        }
        out
    }

    #[test]
    fn msal_finds_both_windowstransport_endpoints_only_when_they_are_on() {
        let on = super::document("https://sts.contoso.com", true);
        let mut found = integrated_endpoints(&on);
        found.sort();
        assert_eq!(
            found,
            vec![
                (
                    "13",
                    "https://sts.contoso.com/adfs/services/trust/13/windowstransport".to_string()
                ),
                (
                    "2005",
                    "https://sts.contoso.com/adfs/services/trust/2005/windowstransport".to_string()
                ),
            ]
        );
        assert!(
            integrated_endpoints(&super::document("https://sts.contoso.com", false)).is_empty()
        );
    }
}
