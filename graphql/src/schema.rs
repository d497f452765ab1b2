//! The schema: queries, subscriptions, limits, and the per-request count of view queries.

use std::sync::Arc;

use async_graphql::extensions::{Extension, ExtensionContext, ExtensionFactory, NextExecute};
use async_graphql::{EmptyMutation, Response, Schema, Value};

use crate::context::{Db, ReadContext};
use crate::query::QueryRoot;
use crate::subscription::SubscriptionRoot;

/// The schema served at `/graphql`.
pub type AlpesSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Builds the schema over `context`'s views, with its depth and complexity limits.
pub fn build_schema(context: ReadContext) -> AlpesSchema {
    let settings = context.settings;
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .extension(ViewQueryCount)
        .data(context)
        .finish()
}

/// Adds `extensions.viewQueries` to each response: the calls of the query API (SQL
/// statements against the views, one or two each) the request took.
struct ViewQueryCount;

impl ExtensionFactory for ViewQueryCount {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(ViewQueryCount)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for ViewQueryCount {
    async fn execute(
        &self,
        ctx: &ExtensionContext<'_>,
        operation_name: Option<&str>,
        next: NextExecute<'_>,
    ) -> Response {
        let response = next.run(ctx, operation_name).await;
        match ctx.data_opt::<Db>() {
            Some(db) => response.extension("viewQueries", Value::from(db.calls())),
            None => response,
        }
    }
}
