package app;
import com.sun.net.httpserver.HttpServer;
import java.net.InetSocketAddress;
public class Main {
  public static void main(String[] a) throws Exception {
    int port = Integer.parseInt(System.getenv().getOrDefault("PORT", "5000"));
    HttpServer s = HttpServer.create(new InetSocketAddress(port), 0);
    s.createContext("/", x -> { byte[] b = ("hello from java " + System.getProperty("java.version")).getBytes(); x.sendResponseHeaders(200, b.length); x.getResponseBody().write(b); x.close(); });
    s.start();
  }
}
