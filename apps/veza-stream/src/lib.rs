//! veza-stream: HLS playlists and segments for Veza's tracks, plus the
//! health and status paths every slot answers.
pub mod contract;
pub mod hls;
pub mod server;
