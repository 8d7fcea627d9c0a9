import express, { type RequestHandler } from 'express';
import { AppError } from '../errors.js';
import { checkJsonShape } from './guards.js';

/** A JSON body, or 415 for another type (no body at all goes on: the route says what is missing, 400). */
export const requireJson: RequestHandler = (req, _res, next) => {
  // false: a body of another type; null: no body at all
  if (req.is('application/json') === false) {
    throw new AppError('UNSUPPORTED_MEDIA_TYPE', 415, 'Content-Type must be application/json');
  }
  next();
};

/** The body parsed: at most 64 KB, an object or array, its shape checked before JSON.parse (checkJsonShape). */
export const readJson: RequestHandler = express.json({ limit: '64kb', strict: true, type: 'application/json', verify: (_req, _res, buf) => checkJsonShape(buf) });
