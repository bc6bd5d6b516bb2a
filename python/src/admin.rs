//! The admin client: topics and partitions. Every call blocks with the GIL released.

use odradek::admin::{Admin, NewTopic};
use pyo3::prelude::*;

/// A topic to create as Python passes it: (name, partitions, replication factor, configs).
type TopicSpec = (String, i32, i16, Vec<(String, String)>);

/// The native admin client under `odradek.AdminClient`.
#[pyclass(module = "odradek._odradek", frozen)]
#[derive(Debug)]
pub struct NativeAdmin {
    admin: Admin,
}

#[pymethods]
impl NativeAdmin {
    #[new]
    #[pyo3(signature = (config, oauth_cb=None))]
    fn new(
        py: Python<'_>,
        config: Vec<(String, String)>,
        oauth_cb: Option<Py<PyAny>>,
    ) -> PyResult<Self> {
        let config = crate::config_of(py, config, oauth_cb)?;
        let admin = Admin::from_config(&config).map_err(|e| crate::raise(py, e))?;
        Ok(NativeAdmin { admin })
    }

    /// Creates topics: (name, partitions, replication factor, [(config, value)]) tuples.
    #[pyo3(signature = (topics, timeout=None))]
    fn create_topics(
        &self,
        py: Python<'_>,
        topics: Vec<TopicSpec>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let topics: Vec<NewTopic> = topics
            .into_iter()
            .map(|(name, partitions, rf, configs)| NewTopic {
                name,
                partitions,
                replication_factor: rf,
                configs,
            })
            .collect();
        let admin = self.admin.clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "create_topics",
            async move { admin.create_topics(&topics).await },
        )
    }

    /// Deletes topics.
    #[pyo3(signature = (topics, timeout=None))]
    fn delete_topics(
        &self,
        py: Python<'_>,
        topics: Vec<String>,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let admin = self.admin.clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "delete_topics",
            async move {
                let t: Vec<&str> = topics.iter().map(String::as_str).collect();
                admin.delete_topics(&t).await
            },
        )
    }

    /// Grows a topic to `total` partitions.
    #[pyo3(signature = (topic, total, timeout=None))]
    fn create_partitions(
        &self,
        py: Python<'_>,
        topic: String,
        total: i32,
        timeout: Option<f64>,
    ) -> PyResult<()> {
        let admin = self.admin.clone();
        crate::wait_for(
            py,
            crate::timeout_of(timeout)?,
            "create_partitions",
            async move { admin.create_partitions(&topic, total).await },
        )
    }

    /// (name, partition count) of every topic.
    #[pyo3(signature = (timeout=None))]
    fn list_topics(&self, py: Python<'_>, timeout: Option<f64>) -> PyResult<Vec<(String, usize)>> {
        let admin = self.admin.clone();
        crate::wait_for(py, crate::timeout_of(timeout)?, "list_topics", async move {
            admin.list_topics().await
        })
    }
}
