use super::*;

fn kubeconfig(cluster: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n{cluster}\ncontexts:\n- name: c\n  context: {{cluster: c, user: u}}\nusers:\n- name: u\n  user:\n{user}\n"
    )
}

#[tokio::test]
async fn refuses_what_a_tenant_kubeconfig_must_not_do() {
    let server = "    server: https://127.0.0.1:1";
    let cases = [
        ("not yaml", "{{{".to_string(), "malformed"),
        (
            "exec",
            kubeconfig(
                server,
                "    exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}",
            ),
            "exec is not allowed",
        ),
        (
            "auth provider",
            kubeconfig(server, "    auth-provider: {name: oidc}"),
            "auth-provider is not allowed",
        ),
        (
            "token file",
            kubeconfig(
                server,
                "    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token",
            ),
            "tokenFile is not allowed",
        ),
        (
            "cert file",
            kubeconfig(server, "    client-certificate: /etc/x.pem"),
            "client-certificate (a file)",
        ),
        (
            "ca file",
            kubeconfig(
                &format!("{server}\n    certificate-authority: /etc/ca.pem"),
                "    token: t",
            ),
            "certificate-authority (a file)",
        ),
        (
            "insecure",
            kubeconfig(
                &format!("{server}\n    insecure-skip-tls-verify: true"),
                "    token: t",
            ),
            "insecure-skip-tls-verify",
        ),
        (
            "http",
            kubeconfig("    server: http://127.0.0.1:1", "    token: t"),
            "not https",
        ),
    ];
    for (name, text, want) in cases {
        let err = factory_from_kubeconfig(text.as_bytes(), "test")
            .await
            .err()
            .unwrap_or_else(|| panic!("{name}: accepted"));
        assert!(
            matches!(err, AccessError::MalformedKubeconfig { .. }),
            "{name}: {err}"
        );
        assert!(err.to_string().contains(want), "{name}: {err}");
        assert!(!err.retryable(), "{name}");
    }
    assert!(
        factory_from_kubeconfig(kubeconfig(server, "    token: t").as_bytes(), "test")
            .await
            .is_ok(),
        "inline token"
    );
}

#[test]
fn classifies_answers() {
    let status = |code: u16| {
        kube::Error::Api(Box::new(
            kube::core::Status::failure("m", "r").with_code(code),
        ))
    };
    assert!(matches!(
        classify("s", true, status(401)),
        AccessError::Unauthorized {
            refreshable: true,
            ..
        }
    ));
    assert!(classify("s", true, status(401)).retryable());
    assert!(!classify("s", false, status(401)).retryable());
    let forbidden = classify("s", true, status(403));
    assert!(matches!(forbidden, AccessError::Forbidden { .. }) && !forbidden.retryable());
    assert!(classify("s", true, status(503)).retryable());
    assert!(!classify("s", true, status(404)).retryable());
    let unreachable = classify("s", true, kube::Error::LinesCodecMaxLineLengthExceeded);
    assert!(matches!(unreachable, AccessError::Unreachable { .. }) && unreachable.retryable());
}
