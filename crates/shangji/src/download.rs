//! File downloads served by both the API and the pages: XLSX workbooks, and files on disk
//! (backups) streamed.

use axum::http::header;
use axum::response::{IntoResponse, Response};

/// An XLSX workbook as an attachment named `name.xlsx`.
pub fn xlsx_response(name: &str, bytes: Vec<u8>) -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_string(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.xlsx\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

/// A file on disk streamed as an attachment named `name`, in pieces as it is read.
pub async fn file_response(
    path: &std::path::Path,
    name: &str,
    content_type: &'static str,
) -> Result<Response, crate::error::AppError> {
    use tokio::io::AsyncReadExt;
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|_| crate::error::AppError::NotFound)?;
    let len = file.metadata().await.map(|m| m.len()).ok();
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(axum::body::Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    let mut response = (
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        axum::body::Body::from_stream(stream),
    )
        .into_response();
    if let Some(len) = len {
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, len.into());
    }
    Ok(response)
}
