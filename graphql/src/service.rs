//! The schema with each request's data: what the HTTP routes run, and what a caller in
//! the same process (the benchmark) runs without HTTP.

use async_graphql::{Request, Response, Variables};

use crate::context::{Db, ReadContext};
use crate::schema::{build_schema, AlpesSchema};

/// Runs GraphQL requests against the views.
#[derive(Clone)]
pub struct GraphqlService {
    pub(crate) schema: AlpesSchema,
    pub(crate) context: ReadContext,
}

impl GraphqlService {
    /// The schema over `context`'s views.
    pub fn new(context: ReadContext) -> GraphqlService {
        GraphqlService {
            schema: build_schema(context.clone()),
            context,
        }
    }

    /// Runs `request` with its own DataLoader and count of view queries.
    pub async fn execute(&self, request: Request) -> Response {
        let request = request.data(Db::new(&self.context.views));
        self.schema.execute(request).await
    }

    /// Runs `query` with `variables` (a JSON object) and returns the response as JSON
    /// (`data`, `errors`, `extensions`), as the HTTP route would send it.
    pub async fn execute_json(
        &self,
        query: &str,
        variables: serde_json::Value,
    ) -> serde_json::Value {
        let request = Request::new(query).variables(Variables::from_json(variables));
        let response = self.execute(request).await;
        serde_json::to_value(&response).unwrap_or_else(|error| {
            serde_json::json!({"errors": [{"message": format!("unserializable response: {error}")}]})
        })
    }
}
