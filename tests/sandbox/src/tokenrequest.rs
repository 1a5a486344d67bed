//! TokenRequest (`POST serviceaccounts/NAME/token`, what `kubectl create token` sends): a
//! JWT-shaped token for `system:serviceaccount:NS:NAME`, valid until it expires and while the
//! ServiceAccount it was issued for exists (deleting it revokes the token, as upstream).

use crate::auth::Bound;
use crate::cluster::Cluster;
use crate::protobuf::{field, fields, text, unwrap, varint};
use crate::registry::ResKey;
use crate::response::{self, Resp};
use crate::server::ApiRequest;
use crate::status::ApiError;
use base64::Engine;
use serde_json::{Value, json};

/// The API server's audience and issuer (kubeadm's default).
pub const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
const DEFAULT_SECONDS: i64 = 3600;
const MIN_SECONDS: i64 = 600;
const MAX_SECONDS: i64 = 1 << 32;

pub fn create(
    cluster: &Cluster,
    req: &ApiRequest,
    namespace: &str,
    name: &str,
) -> Result<Resp, ApiError> {
    let body = decode(req)?;
    let sa = cluster
        .store
        .get(&ResKey::new("", "serviceaccounts"), namespace, name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", name))?;
    let spec = &body["spec"];
    let seconds = spec["expirationSeconds"]
        .as_i64()
        .filter(|s| *s != 0)
        .unwrap_or(DEFAULT_SECONDS);
    let invalid = |why: &str| {
        ApiError::invalid(
            "authentication.k8s.io",
            "TokenRequest",
            name,
            "spec.expirationSeconds",
            &format!("Invalid value: {seconds}: {why}"),
        )
    };
    if seconds < MIN_SECONDS {
        return Err(invalid("may not specify a duration less than 10 minutes"));
    }
    if seconds > MAX_SECONDS {
        return Err(invalid(
            "may not specify a duration larger than 2^32 seconds",
        ));
    }
    let audiences = match spec["audiences"].as_array() {
        Some(a) if !a.is_empty() => Value::Array(a.clone()),
        _ => json!([ISSUER]),
    };
    let now = crate::clock::now();
    let expires = now
        .checked_add(jiff::SignedDuration::from_secs(seconds))
        .map_err(|e| ApiError::internal(format!("token expiry: {e}")))?;
    let uid = sa["metadata"]["uid"].as_str().unwrap_or("").to_string();
    let token = jwt(namespace, name, &uid, &audiences, now, expires);
    if !req.query.dry_run() {
        cluster.tokens.add_bound(
            &token,
            Bound {
                namespace: namespace.into(),
                service_account: name.into(),
                uid,
                expires,
            },
        );
    }
    Ok(response::json(
        201,
        &json!({
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "name": name, "namespace": namespace, "creationTimestamp": null },
            "spec": { "audiences": audiences, "expirationSeconds": seconds, "boundObjectRef": spec.get("boundObjectRef").cloned().unwrap_or(Value::Null) },
            "status": { "token": token, "expirationTimestamp": crate::clock::rfc3339(expires) },
        }),
    ))
}

/// Whether a TokenRequest token still authenticates: not expired, its ServiceAccount still the
/// one it was issued for.
pub fn still_valid(cluster: &Cluster, bound: &Bound) -> bool {
    crate::clock::now() < bound.expires
        && cluster
            .store
            .get(
                &ResKey::new("", "serviceaccounts"),
                &bound.namespace,
                &bound.service_account,
            )
            .is_some_and(|sa| sa["metadata"]["uid"].as_str() == Some(bound.uid.as_str()))
}

fn decode(req: &ApiRequest) -> Result<Value, ApiError> {
    if req
        .content_type
        .starts_with("application/vnd.kubernetes.protobuf")
    {
        return from_protobuf(&req.body)
            .ok_or_else(|| ApiError::bad_request("unable to decode the protobuf TokenRequest"));
    }
    if req.body.is_empty() {
        return Ok(json!({}));
    }
    serde_json::from_slice(&req.body)
        .map_err(|e| ApiError::bad_request(format!("the object provided is unrecognized: {e}")))
}

/// TokenRequest: spec=2 → audiences=1 (repeated), boundObjectRef=3 (kind=1, apiVersion=2,
/// name=3, uid=4), expirationSeconds=4.
pub fn from_protobuf(body: &[u8]) -> Option<Value> {
    let (_, _, raw) = unwrap(body)?;
    let review = fields(&raw)?;
    let spec = fields(field(&review, 2).unwrap_or_default())?;
    let audiences: Vec<String> = spec
        .iter()
        .filter(|(n, _)| *n == 1)
        .map(|(_, b)| String::from_utf8_lossy(b).into_owned())
        .collect();
    let mut out = json!({ "audiences": audiences });
    if let Some(v) = field(&spec, 4) {
        let (seconds, _) = varint(v)?;
        out["expirationSeconds"] = json!(i64::try_from(seconds).ok()?);
    }
    if let Some(b) = field(&spec, 3) {
        let r = fields(b)?;
        out["boundObjectRef"] = json!({ "kind": text(&r, 1), "apiVersion": text(&r, 2), "name": text(&r, 3), "uid": text(&r, 4) });
    }
    Some(json!({ "spec": out }))
}

/// A token shaped like the API server's (header.claims.signature, base64url): clients that
/// read the claims see what they would see; the server itself only looks the token up.
fn jwt(
    namespace: &str,
    name: &str,
    uid: &str,
    audiences: &Value,
    now: jiff::Timestamp,
    expires: jiff::Timestamp,
) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = json!({ "alg": "RS256", "kid": crate::auth::random_token() });
    let claims = json!({
        "aud": audiences,
        "exp": expires.as_second(),
        "iat": now.as_second(),
        "iss": ISSUER,
        "jti": crate::auth::random_token(),
        "kubernetes.io": { "namespace": namespace, "serviceaccount": { "name": name, "uid": uid } },
        "nbf": now.as_second(),
        "sub": format!("system:serviceaccount:{namespace}:{name}"),
    });
    let signature: Vec<u8> = (0..256).map(|_| fastrand::u8(..)).collect();
    format!(
        "{}.{}.{}",
        b64.encode(header.to_string()),
        b64.encode(claims.to_string()),
        b64.encode(signature)
    )
}
