//! A TCP relay in front of a server, which a test can cut and restore. Cut, its port
//! refuses connections and every relayed connection is closed mid-stream: what a client
//! sees when the server behind the address stops. Restored, it relays again on the same
//! port. The S3 test server keeps its objects in memory, so stopping the server itself
//! would lose what the test stored before the outage; the relay takes only the network
//! path away.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

pub struct Cut {
    addr: SocketAddr,
    upstream: SocketAddr,
    /// The accept loop and every relayed connection, aborted by a cut.
    tasks: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Cut {
    pub async fn new(upstream: SocketAddr) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let cut = Self {
            addr: listener.local_addr().unwrap(),
            upstream,
            tasks: Arc::default(),
        };
        cut.serve(listener);
        cut
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops listening and closes every relayed connection.
    pub fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }

    /// Listens on the same port again (once the aborted listener is gone).
    pub async fn restore(&self) {
        for _ in 0..100 {
            if let Ok(listener) = TcpListener::bind(self.addr).await {
                return self.serve(listener);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("could not listen on {} again", self.addr);
    }

    fn serve(&self, listener: TcpListener) {
        let (upstream, tasks) = (self.upstream, self.tasks.clone());
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let relay = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                tasks.lock().unwrap().push(relay.abort_handle());
            }
        });
        self.tasks.lock().unwrap().push(accept.abort_handle());
    }
}
