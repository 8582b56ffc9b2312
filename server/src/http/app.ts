/**
 * The express app: security headers, CORS, JSON bodies within the message limit, the routes, and
 * the protocol's error envelope for everything that falls through (unknown path, bad JSON,
 * oversized body).
 */
import { AppError } from "@switchboard/shared";
import cors from "cors";
import express, { type NextFunction, type Request, type Response } from "express";
import helmet from "helmet";
import { mountRoutes, sendError, type Route, type RouteDeps } from "./routes";

export interface AppOptions extends RouteDeps {
  corsOrigins: string[] | "*" | false;
  maxMessageBytes: number;
  routes: readonly Route[];
}

export function createApp(options: AppOptions): express.Express {
  const app = express();
  app.disable("x-powered-by");
  app.set("trust proxy", "loopback, linklocal, uniquelocal");
  app.use(
    helmet({
      // Fits a JSON API, which loads nothing and is never framed. Pages and scripts that need
      // more set their own policy, which replaces this one (features/demo).
      contentSecurityPolicy: {
        useDefaults: false,
        directives: { defaultSrc: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"], frameAncestors: ["'none'"] },
      },
      xFrameOptions: { action: "deny" },
      // Nodes speak plain HTTP behind a proxy; HSTS belongs to whoever terminates TLS for the
      // domain (and includeSubDomains there would reach sites this service knows nothing of).
      strictTransportSecurity: false,
    }),
  );
  if (options.corsOrigins) app.use(cors({ origin: options.corsOrigins, credentials: options.corsOrigins !== "*" }));
  app.use(express.json({ limit: options.maxMessageBytes, strict: true }));

  const router = express.Router();
  mountRoutes(router, options.routes, options);
  app.use(router);

  app.use((req: Request, res: Response) => {
    sendError(res, new AppError("NOT_FOUND", `no route for ${req.method} ${req.path}`));
  });
  // express needs the four-argument signature to treat this as the error handler.
  app.use((err: { type?: string; status?: number; limit?: number }, _req: Request, res: Response, _next: NextFunction) => {
    if (err.type === "entity.too.large") {
      sendError(res, new AppError("PAYLOAD_TOO_LARGE", `the body exceeds ${options.maxMessageBytes} bytes`, { limit: options.maxMessageBytes }));
    } else if (err.type === "entity.parse.failed") {
      sendError(res, new AppError("VALIDATION_FAILED", "the body is not valid JSON"));
    } else if (err.status && err.status < 500) {
      sendError(res, new AppError("VALIDATION_FAILED", "the request could not be read"));
    } else {
      options.logger.error("unhandled request error", { event: "http", error: String(err) });
      sendError(res, new AppError("INTERNAL", "internal error"));
    }
  });
  return app;
}
