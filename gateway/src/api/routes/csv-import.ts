import type { FastifyInstance } from 'fastify';
import type { Static } from 'typebox';
import type { AppContext } from '../app.js';
import * as S from '../schemas.js';
import * as F from './flow-schemas.js';
import { define, endMinute, inProperty, startMinute } from './define.js';
import { getProperty } from '../../model/properties.js';
import { applyImport, countImportRows, countImports, createImport, getImport, importErrorReport, importRows, listImports } from '../../flows/csv-import.js';
import { csvTemplate } from '../../flows/csv-file.js';
import { importRowView as baseRowView, importView } from '../../flows/views.js';
import type { ImportRow } from '../../flows/csv-import.js';


/** The row as flows/views.ts shows it, plus the Start and Expiration cells. */
const importRowView = (r: ImportRow) => ({ ...baseRowView(r), start: r.cells.start ?? null, expiration: r.cells.expiration ?? null });

/** A 10,000-row file is about 1 MB of JSON; the default 1 MiB body limit is too tight for it. */
const UPLOAD_BODY_LIMIT = 40 * 1024 * 1024;

/** CSV import (seed 000): template, upload with preview, rows, error report, apply ("Send"). */
export function registerCsvImportRoutes(app: FastifyInstance, { db, ctxFor }: AppContext): void {
  const importIn = (p: Static<typeof F.params.importRef>) => inProperty(getImport(db, p.importId), p.propertyId, 'IMPORT_NOT_FOUND', `CSV import ${p.importId}`);
  const csvReply = (reply: { type(t: string): unknown; header(k: string, v: string): unknown }, name: string) => {
    reply.type('text/csv; charset=utf-8');
    reply.header('content-disposition', `attachment; filename="${name}"`);
  };

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/imports/template',
    operationId: 'csvImportTemplate',
    summary: 'Download the CSV template (text/csv): First Name, Last Name, Email, Phone, Unit, Keys, Start, Expiration',
    tags: ['csv-import'],
    permission: 'read',
    params: S.params.property,
    response: { 200: F.csvText },
    handler: (_req, reply) => {
      csvReply(reply, 'latchkit-import-template.csv');
      return csvTemplate();
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/imports',
    operationId: 'listCsvImports',
    summary: 'CSV imports of the property, newest first',
    tags: ['csv-import'],
    permission: 'read',
    params: S.params.property,
    querystring: F.importsQuery,
    response: { 200: S.arrayOf(F.importSummary) },
    handler: (req, reply) =>
      S.withTotal(reply, countImports(db, req.params.propertyId), listImports(db, req.params.propertyId, req.query).map(importView)),
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/imports',
    operationId: 'uploadCsvImport',
    summary: 'Upload a CSV file: every row is checked and previewed; nothing is applied yet',
    tags: ['csv-import'],
    permission: 'key_management',
    // The one route whose body may exceed Fastify's default limit.
    bodyLimit: UPLOAD_BODY_LIMIT,
    params: S.params.property,
    body: F.importUpload,
    response: { 201: F.importPreview },
    handler: (req, reply) => {
      const imp = createImport(db, req.params.propertyId, { csv: req.body.csv, fileName: req.body.fileName ?? null }, ctxFor(req));
      reply.code(201);
      return {
        import: importView(imp),
        warnings: imp.warnings ?? [],
        rows: importRows(db, imp.id, { limit: 100 }).map(importRowView),
        errors: importRows(db, imp.id, { status: 'error', limit: 1000 }).map(importRowView),
      };
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/imports/:importId',
    operationId: 'getCsvImport',
    summary: 'A CSV import: status, the keys and window it was applied with, row counts',
    tags: ['csv-import'],
    permission: 'read',
    params: F.params.importRef,
    response: { 200: F.importSummary },
    handler: (req) => importView(importIn(req.params)),
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/imports/:importId/rows',
    operationId: 'listCsvImportRows',
    summary: 'The rows of a CSV import with their status and errors, in file order',
    tags: ['csv-import'],
    permission: 'read',
    params: F.params.importRef,
    querystring: F.importRowsQuery,
    response: { 200: S.arrayOf(F.importRow) },
    handler: (req, reply) => {
      importIn(req.params);
      return S.withTotal(reply, countImportRows(db, req.params.importId, req.query.status), importRows(db, req.params.importId, req.query).map(importRowView));
    },
  });

  define(app, {
    method: 'GET',
    url: '/properties/:propertyId/imports/:importId/error-report',
    operationId: 'csvImportErrorReport',
    summary: 'The error report (text/csv): skipped rows with an Error column; correct it and upload it again',
    tags: ['csv-import'],
    permission: 'read',
    params: F.params.importRef,
    response: { 200: F.csvText },
    handler: (req, reply) => {
      importIn(req.params);
      csvReply(reply, `latchkit-import-${req.params.importId}-errors.csv`);
      return importErrorReport(db, req.params.importId);
    },
  });

  define(app, {
    method: 'POST',
    url: '/properties/:propertyId/imports/:importId/apply',
    operationId: 'applyCsvImport',
    summary: '"Send": import the ready rows with the chosen communal keys and optional start/expiration',
    tags: ['csv-import'],
    permission: 'key_management',
    params: F.params.importRef,
    body: F.importApply,
    response: { 200: F.importApplied },
    handler: (req) => {
      importIn(req.params);
      const off = getProperty(db, req.params.propertyId).timeZone;
      const r = applyImport(
        db,
        req.params.importId,
        {
          communalKeyIds: req.body.communalKeyIds ?? [],
          start: startMinute(req.body.startsAt, off) ?? null,
          end: endMinute(req.body.expiresAt, off) ?? null,
        },
        ctxFor(req),
      );
      return { import: importView(r.import), failed: r.failed.map(importRowView), affectedDoors: r.affectedDoors };
    },
  });
}
