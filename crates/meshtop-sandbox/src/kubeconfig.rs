//! The kubeconfig a client uses to reach the sandbox.

/// The context that may do everything.
pub const ADMIN_CONTEXT: &str = "meshtop-sandbox";
/// The context refused what the scenario's `restricted-deny` names.
pub const RESTRICTED_CONTEXT: &str = "meshtop-sandbox-restricted";

/// Two contexts on one cluster: `meshtop-sandbox` (may do everything) and
/// `meshtop-sandbox-restricted` (refused what the scenario's `restricted-deny` names).
pub fn render(server: &str, ca_pem: &str, admin_token: &str, restricted_token: &str) -> String {
    use base64::Engine as _;
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: meshtop-sandbox
  cluster:
    server: {server}
    certificate-authority-data: {ca}
contexts:
- name: meshtop-sandbox
  context:
    cluster: meshtop-sandbox
    user: meshtop-sandbox-admin
- name: meshtop-sandbox-restricted
  context:
    cluster: meshtop-sandbox
    user: meshtop-sandbox-restricted
current-context: meshtop-sandbox
preferences: {{}}
users:
- name: meshtop-sandbox-admin
  user:
    token: {admin_token}
- name: meshtop-sandbox-restricted
  user:
    token: {restricted_token}
"
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn kubeconfig_parses_and_names_both_contexts() {
        let text = super::render("https://127.0.0.1:1234", "PEM", "aaa", "bbb");
        let v: serde_yaml::Value = serde_yaml::from_str(&text).expect("yaml");
        assert_eq!(v["current-context"].as_str(), Some("meshtop-sandbox"));
        assert_eq!(v["users"][0]["user"]["token"].as_str(), Some("aaa"));
        assert_eq!(
            v["clusters"][0]["cluster"]["certificate-authority-data"].as_str(),
            Some("UEVN")
        );
        assert_eq!(
            v["contexts"][1]["name"].as_str(),
            Some("meshtop-sandbox-restricted")
        );
    }
}
