//! The schema: queries, subscriptions, limits, and the per-request count of view queries.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextExecute, NextValidation,
};
use async_graphql::{
    EmptyMutation, ErrorExtensions, Pos, Response, Schema, ServerError, ValidationResult, Value,
};

use crate::error::{coded, ErrorCode};

use crate::context::{Db, ReadContext};
use crate::query::QueryRoot;
use crate::subscription::SubscriptionRoot;

/// The schema served at `/graphql`.
pub type AlpesSchema = Schema<QueryRoot, EmptyMutation, SubscriptionRoot>;

/// Builds the schema over `context`'s views, with its depth and complexity limits.
pub fn build_schema(context: ReadContext) -> AlpesSchema {
    let settings = context.settings;
    Schema::build(QueryRoot, EmptyMutation, SubscriptionRoot)
        .extension(QueryLimits {
            max_depth: settings.max_depth,
            max_complexity: settings.max_complexity,
        })
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

/// Refuses a query deeper or more complex than the settings allow, saying by how much.
/// (async-graphql's own limits say neither the limit nor the query's value.)
#[derive(Clone, Copy)]
struct QueryLimits {
    max_depth: usize,
    max_complexity: usize,
}

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(*self)
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for QueryLimits {
    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        let refuse = |code: ErrorCode, message: String, value: usize, limit: usize| {
            let error = coded(code, message).extend_with(|_, extensions| {
                extensions.set("value", value);
                extensions.set("limit", limit);
            });
            Err(vec![error.into_server_error(Pos::default())])
        };
        if result.depth > self.max_depth {
            return refuse(
                ErrorCode::QueryTooDeep,
                format!(
                    "the query nests {} levels deep; the limit is {} (--graphql-max-depth)",
                    result.depth, self.max_depth
                ),
                result.depth,
                self.max_depth,
            );
        }
        if result.complexity > self.max_complexity {
            return refuse(
                ErrorCode::QueryTooComplex,
                format!(
                    "the query's complexity is {}; the limit is {} (--graphql-max-complexity); \
                     ask for fewer rows with `first` or fewer fields",
                    result.complexity, self.max_complexity
                ),
                result.complexity,
                self.max_complexity,
            );
        }
        Ok(result)
    }
}
