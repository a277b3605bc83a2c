//! The bucket's own settings Hoist needs: a CORS rule for the site's origin and a lifecycle
//! rule that ends abandoned multipart uploads.

use super::*;

impl S3Store {
    /// Browsers PUT and GET straight to the bucket from the site's origin; without this rule
    /// their preflight requests fail. ETag is exposed so a browser can read what it stored.
    /// Rules already there are kept: several Hoist instances (or other sites) may share a bucket.
    pub async fn allow_browser_origin(&self, origin: &str) -> StorageResult<()> {
        let existing = match self
            .client
            .get_bucket_cors()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => out.cors_rules.unwrap_or_default(),
            Err(e) if e.code() == Some("NoSuchCORSConfiguration") || not_found(&e) => Vec::new(),
            Err(e) => return Err(classify(e)),
        };
        let allows_us = |rule: &CorsRule| {
            rule.allowed_origins()
                .iter()
                .any(|o| o == origin || o == "*")
                && rule.allowed_methods().iter().any(|m| m == "PUT")
                && rule
                    .expose_headers()
                    .iter()
                    .any(|h| h.eq_ignore_ascii_case("etag"))
        };
        if existing.iter().any(allows_us) {
            return Ok(());
        }
        let ours = CorsRule::builder()
            .allowed_origins(origin)
            .allowed_methods("PUT")
            .allowed_methods("GET")
            .allowed_methods("HEAD")
            .allowed_headers("*")
            .expose_headers("ETag")
            .max_age_seconds(3600)
            .build()
            .map_err(|e| StorageError::Refused(e.to_string()))?;
        let cors = CorsConfiguration::builder()
            .set_cors_rules(Some(existing.into_iter().chain([ours]).collect()))
            .build()
            .map_err(|e| StorageError::Refused(e.to_string()))?;
        self.client
            .put_bucket_cors()
            .bucket(&self.bucket)
            .cors_configuration(cors)
            .send()
            .await
            .map_err(classify)?;
        Ok(())
    }

    /// The backstop behind the reaper: the store itself aborts multipart uploads under
    /// `prefix` left incomplete for `days`, should Hoist be gone for good. Other lifecycle
    /// rules are kept; ours is replaced when the prefix or the age changed. `Ok(false)` when
    /// the store does not do lifecycle rules.
    pub async fn ensure_abort_incomplete_rule(
        &self,
        prefix: &str,
        days: i32,
    ) -> StorageResult<bool> {
        const RULE_ID: &str = "hoist-abort-incomplete-uploads";
        let existing = match self
            .client
            .get_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .send()
            .await
        {
            Ok(out) => out.rules.unwrap_or_default(),
            Err(e) if e.code() == Some("NoSuchLifecycleConfiguration") || not_found(&e) => {
                Vec::new()
            }
            Err(e) if unsupported(&e) => return Ok(false),
            Err(e) => return Err(classify(e)),
        };
        let is_ours = |r: &LifecycleRule| r.id() == Some(RULE_ID);
        let current = existing.iter().find(|r| is_ours(r)).is_some_and(|r| {
            r.filter().and_then(|f| f.prefix()).unwrap_or_default() == prefix
                && r.abort_incomplete_multipart_upload()
                    .and_then(|a| a.days_after_initiation())
                    == Some(days)
        });
        if current {
            return Ok(true);
        }
        let existing: Vec<LifecycleRule> = existing.into_iter().filter(|r| !is_ours(r)).collect();
        let ours = LifecycleRule::builder()
            .id(RULE_ID)
            .status(ExpirationStatus::Enabled)
            .filter(LifecycleRuleFilter::builder().prefix(prefix).build())
            .abort_incomplete_multipart_upload(
                AbortIncompleteMultipartUpload::builder()
                    .days_after_initiation(days)
                    .build(),
            )
            .build()
            .map_err(|e| StorageError::Refused(e.to_string()))?;
        let lifecycle = BucketLifecycleConfiguration::builder()
            .set_rules(Some(existing.into_iter().chain([ours]).collect()))
            .build()
            .map_err(|e| StorageError::Refused(e.to_string()))?;
        match self
            .client
            .put_bucket_lifecycle_configuration()
            .bucket(&self.bucket)
            .lifecycle_configuration(lifecycle)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if unsupported(&e) => Ok(false),
            Err(e) => Err(classify(e)),
        }
    }
}
